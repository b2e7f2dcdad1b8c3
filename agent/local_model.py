"""How the local model runs on this CPU: threads, llama.cpp's extra buffer types, and the self-test that proves it.

`convrec model ensure` runs `self_test` in the model process and records the result beside the GGUF
(`<file>.selftest.json`), keyed by the model, this CPU and the llama-cpp-python version. `convrec info` shows it,
and `process_options` reads it: a configuration that crashed on this CPU is never the first one tried again.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convrec.agent.llm import LLMError, LLMUnavailable
from convrec.agent.model_process import ModelProcess, ProcessOptions

if TYPE_CHECKING:
    from convrec.core.settings import Settings

AMX_FLAGS = {"amx_tile", "amx_int8", "amx_bf16"}
# Chosen by bench/model_process.py (README "The model process"): with other processes on the cores, 1 decode and 1
# prefill thread ran fastest (0.5B: 56 / 20 tok/s) where 2 spinning threads collapsed (5 / 0.9 tok/s) and 2 sleeping
# ones did not win either (34 / 12). So decode takes 1 thread, and prefill every core but one: the front end keeps a
# core, and on 2 cores that is 1 thread too.
DECODE_THREADS = 1


def _cpuinfo(field: str) -> str | None:
    """The first `field` line of /proc/cpuinfo (Linux), None elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(field):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_flags() -> set[str]:
    return set((_cpuinfo("flags") or "").split())


def cpu_name() -> str:
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def cpu_signature() -> str:
    """This CPU as far as llama.cpp's code paths care: its name and instruction-set flags."""
    return hashlib.sha256((cpu_name() + " " + " ".join(sorted(cpu_flags()))).encode()).hexdigest()[:16]


def llama_cpp_version() -> str:
    try:
        from importlib.metadata import version

        return version("llama-cpp-python")
    except Exception:  # noqa: BLE001 - not installed: the record says so
        return "absent"


@dataclass
class SelfTest:
    """One `convrec model ensure` run of the model on this CPU."""

    ok: bool
    model: str
    cpu: str
    cpu_signature: str
    llama_cpp: str
    extra_bufts: bool
    threads: int
    threads_batch: int
    prefill_tps: float = 0.0
    decode_tps: float = 0.0
    error: str | None = None
    crashed_with_extra_bufts: bool = False
    at: float = 0.0

    def summary(self) -> str:
        if not self.ok:
            return f"no: {self.error} — run `convrec model ensure` again, or set CONVREC_LLM=none"
        mode = "" if self.extra_bufts else ", safe mode (llama.cpp extra buffer types off)"
        return (f"yes, prefill {self.prefill_tps:g} tok/s, decode {self.decode_tps:g} tok/s "
                f"({self.threads} decode / {self.threads_batch} prefill threads{mode})")


def record_path(model_path: Path, records_dir: Path) -> Path:
    return Path(records_dir) / f"{Path(model_path).name}.selftest.json"


def read_self_test(model_path: Path, records_dir: Path) -> SelfTest | None:
    """The recorded self-test of this model on this CPU with this llama-cpp-python, or None."""
    try:
        record = SelfTest(**json.loads(record_path(model_path, records_dir).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    fresh = record.cpu_signature == cpu_signature() and record.llama_cpp == llama_cpp_version() \
        and record.model == Path(model_path).name
    return record if fresh else None


def process_options(settings: Settings, model_path: Path) -> ProcessOptions:
    """Threads and extra buffer types for this CPU: settings first, then the self-test's record, then the CPU."""
    cores = _cores()
    if settings.llm_extra_bufts != "auto":
        extra_bufts = settings.llm_extra_bufts == "on"
    else:
        recorded = read_self_test(model_path, settings.models_dir)
        extra_bufts = recorded.extra_bufts if recorded is not None and recorded.ok else not (AMX_FLAGS & cpu_flags())
    return ProcessOptions(model_path=Path(model_path), n_ctx=settings.n_ctx,
                          n_threads=settings.n_threads or min(DECODE_THREADS, cores),
                          n_threads_batch=settings.n_threads_batch or max(1, cores - 1), extra_bufts=extra_bufts,
                          log_path=settings.models_dir / "model-process.log")


def model_process(settings: Settings, model_path: Path) -> ModelProcess:
    return ModelProcess(process_options(settings, model_path), stall_timeout=settings.llm_stall_timeout)


def self_test(settings: Settings, model_path: Path) -> SelfTest:
    """Run the model once in its own process; if it dies of a native fault with extra buffer types on, try again
    with them off. Records and returns the outcome: it never raises for a model that cannot run."""
    options = process_options(settings, model_path)
    crashed_with_extra_bufts = False
    outcome: dict[str, Any] | str
    while True:
        tried_extra_bufts = options.extra_bufts
        process = ModelProcess(options, stall_timeout=settings.llm_stall_timeout, max_restarts=0)
        try:
            outcome = process.self_test()
            break
        except LLMUnavailable as error:
            outcome = error.what
            if tried_extra_bufts and not options.extra_bufts:  # a native fault switched the process to safe mode
                crashed_with_extra_bufts = True
                continue
            break
        except LLMError as error:
            outcome = error.what
            break
        finally:
            process.close()
    ran = isinstance(outcome, dict)
    speeds = outcome if ran else {}
    record = SelfTest(ok=ran, model=Path(model_path).name, cpu=cpu_name(), cpu_signature=cpu_signature(),
                      llama_cpp=llama_cpp_version(), extra_bufts=options.extra_bufts, threads=options.n_threads,
                      threads_batch=options.n_threads_batch, prefill_tps=speeds.get("prefill_tps", 0.0),
                      decode_tps=speeds.get("decode_tps", 0.0), error=None if ran else outcome,
                      crashed_with_extra_bufts=crashed_with_extra_bufts, at=time.time())
    path = record_path(model_path, settings.models_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(record), indent=1))
    return record


def _cores() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
