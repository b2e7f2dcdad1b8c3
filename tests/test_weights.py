"""GGUF assembly from chunk packages: streamed, verified, atomic, rebuilt when corrupt."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from convrec.agent.weights import MODELS, ModelSpec, ensure_model, resolve_model_path
from convrec.core.errors import ModelError
from convrec.core.settings import Settings

PARTS = [b"GGUF" + b"a" * 5000, b"b" * 7000, b"c" * 3]


def fake_spec(tmp_path: Path, parts: list[bytes] = PARTS, *, sha256: str | None = None) -> ModelSpec:
    folder = tmp_path / "chunks"
    folder.mkdir(exist_ok=True)
    for number, content in enumerate(parts, start=1):
        (folder / f"part{number:02d}.bin").write_bytes(content)
    whole = b"".join(PARTS)
    return ModelSpec(name="fake", filename="fake.gguf", package_prefix="fake-part", parts=len(PARTS),
                     size=len(whole), sha256=sha256 or hashlib.sha256(whole).hexdigest(), extra="model-fake",
                     locate=lambda package, part: folder / f"part{part:02d}.bin")


def test_assembles_verified_and_atomic(tmp_path):
    path = ensure_model(fake_spec(tmp_path), tmp_path / "models")
    assert path.read_bytes() == b"".join(PARTS)
    assert not list((tmp_path / "models").glob("*.partial"))


def test_progress_reaches_the_total(tmp_path):
    reports = []
    ensure_model(fake_spec(tmp_path), tmp_path / "models", lambda task, done, total=None: reports.append((done, total)))
    assert reports[-1] == (sum(map(len, PARTS)), sum(map(len, PARTS)))


def test_truncated_chunk_is_rejected(tmp_path):
    spec = fake_spec(tmp_path, [PARTS[0], PARTS[1][:-10], PARTS[2]])
    with pytest.raises(ModelError, match="bytes, expected"):
        ensure_model(spec, tmp_path / "models")
    assert not list((tmp_path / "models").iterdir())


def test_wrong_hash_is_rejected_and_partial_removed(tmp_path):
    with pytest.raises(ModelError, match="sha256"):
        ensure_model(fake_spec(tmp_path, sha256="0" * 64), tmp_path / "models")
    assert not list((tmp_path / "models").iterdir())


def test_corrupt_existing_file_is_rebuilt(tmp_path):
    spec = fake_spec(tmp_path)
    path = ensure_model(spec, tmp_path / "models")
    path.write_bytes(b"GGUF" + b"x" * (spec.size - 4))
    assert ensure_model(spec, tmp_path / "models").read_bytes() == b"".join(PARTS)


def test_warm_start_trusts_the_sidecar(tmp_path):
    calls = []
    spec = fake_spec(tmp_path)
    counting = replace(spec, locate=lambda package, part: calls.append(part) or spec.locate(package, part))
    ensure_model(counting, tmp_path / "models")
    assert ensure_model(counting, tmp_path / "models").is_file()
    assert calls == [1, 2, 3]  # the second call neither re-read chunks nor failed


def test_missing_chunk_package_names_the_package_and_fix(tmp_path):
    def missing(package: str, part: int) -> Path:
        raise FileNotFoundError(package)

    spec = replace(fake_spec(tmp_path), locate=missing)
    with pytest.raises(ModelError) as caught:
        ensure_model(spec, tmp_path / "models")
    assert "fake-part1 is not installed" in caught.value.render() and "convrec[model-fake]" in caught.value.render()


def test_user_gguf_must_have_the_magic(tmp_path):
    bogus = tmp_path / "mine.gguf"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a GGUF file"):
        resolve_model_path(bogus, "qwen2.5-coder-1.5b", tmp_path)
    good = tmp_path / "good.gguf"
    good.write_bytes(b"GGUF....")
    assert resolve_model_path(good, "qwen2.5-coder-1.5b", tmp_path) == good


def test_real_small_model_assembles_from_its_packages():
    spec = MODELS["qwen2.5-coder-0.5b"]
    path = ensure_model(spec, Settings().models_dir)
    assert path.stat().st_size == spec.size
    with open(path, "rb") as handle:
        assert handle.read(4) == b"GGUF"


def test_cli_unknown_model_is_one_line_exit_2():
    result = subprocess.run([sys.executable, "-c", "from convrec.cli.main import run; run()", "model", "ensure",
                             "nope"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "convrec: error: unknown model 'nope' — use one of: qwen2.5-coder-1.5b, qwen2.5-coder-0.5b, or CONVREC_MODEL_PATH"]
