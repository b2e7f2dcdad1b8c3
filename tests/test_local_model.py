"""How the local model is run on this CPU: the buffer mode and threads, and the self-test record that remembers
what worked. The model process is the echo plumbing backend here; the real GGUF is in test_crash_recovery.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from convrec.agent import local_model
from convrec.agent.local_model import process_options, read_self_test, self_test
from convrec.agent.model_process import ProcessOptions
from convrec.core.settings import Settings

@pytest.fixture
def model(tmp_path) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(b"GGUF")
    return path


def test_amx_cpus_get_safe_mode_and_others_keep_the_fast_buffers(monkeypatch, model):
    monkeypatch.setattr(local_model, "cpu_flags", lambda: {"avx2", "avx512f", "amx_tile", "amx_int8"})
    assert process_options(Settings(), model).extra_bufts is False
    monkeypatch.setattr(local_model, "cpu_flags", lambda: {"avx2", "avx512f"})
    assert process_options(Settings(), model).extra_bufts is True
    assert process_options(Settings(llm_extra_bufts="off"), model).extra_bufts is False  # the setting wins


def test_threads_default_to_one_decode_thread_and_all_cores_but_one_for_prefill(monkeypatch, model):
    monkeypatch.setattr(local_model, "_cores", lambda: 2)
    options = process_options(Settings(), model)
    assert (options.n_threads, options.n_threads_batch) == (1, 1)
    monkeypatch.setattr(local_model, "_cores", lambda: 8)
    assert process_options(Settings(), model).n_threads_batch == 7
    options = process_options(Settings(n_threads=2, n_threads_batch=1), model)
    assert (options.n_threads, options.n_threads_batch) == (2, 1)


def test_a_self_test_that_crashes_with_extra_buffers_is_retried_in_safe_mode_and_remembered(monkeypatch, model):
    def crash_unless_safe(self: ProcessOptions) -> list[str]:
        if self.extra_bufts:
            return [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
        return _echo_argv(self)

    monkeypatch.setattr(ProcessOptions, "argv", crash_unless_safe)
    monkeypatch.setattr(local_model, "cpu_flags", lambda: {"avx2"})  # nothing says this CPU is risky
    settings = Settings()
    record = self_test(settings, model)
    assert record.ok and record.extra_bufts is False and record.crashed_with_extra_bufts
    assert "safe mode" in record.summary()
    assert read_self_test(model, settings.models_dir) == record
    assert process_options(settings, model).extra_bufts is False  # the next start does not crash first


def test_a_model_that_never_runs_is_recorded_as_not_running(monkeypatch, model):
    crash = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGILL)"]
    monkeypatch.setattr(ProcessOptions, "argv", lambda self: crash)
    record = self_test(Settings(), model)
    assert not record.ok and "crashed (SIGILL)" in record.error
    assert record.summary().startswith("no: ") and "CONVREC_LLM=none" in record.summary()


def test_a_record_from_another_cpu_or_llama_version_is_ignored(monkeypatch, model):
    monkeypatch.setattr(ProcessOptions, "argv", _echo_argv)
    settings = Settings()
    self_test(settings, model)
    assert read_self_test(model, settings.models_dir) is not None
    monkeypatch.setattr(local_model, "cpu_signature", lambda: "another-cpu")
    assert read_self_test(model, settings.models_dir) is None


def _echo_argv(self: ProcessOptions) -> list[str]:
    return [sys.executable, "-m", "convrec.agent.model_process", "--model", str(self.model_path), "--backend", "echo",
            *([] if self.extra_bufts else ["--no-extra-bufts"])]
