"""Timing and result writing shared by the benchmarks."""

import os
import platform
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def median_seconds(fn, repeats=10, warmup=2):
    """Median wall time of ``fn()`` after ``warmup`` calls (the first traces/compiles)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(fns, repeats=10, warmup=2):
    """Median times of several callables measured in alternation, so drift hits all alike.
    A callable that returns a float reports its own time (e.g. the training part of a ``fit``)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            own = fn()
            times[name].append(own if isinstance(own, float) else time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def fit_clock():
    """A Keras callback whose ``seconds`` (after ``fit``) are those from the first step to the
    end of the last epoch: when ``fit`` returns, dropping its input iterator sometimes takes
    another 0.5-2.5 s here, paid once per ``fit`` (once per fold in the apps)."""
    import keras

    class FitClock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start = time.perf_counter()

        def on_train_end(self, logs=None):
            self.seconds = time.perf_counter() - self.start

    return FitClock()


def _cpu():
    """The CPU's model name and whether it has AVX-512: the machines here change, and with them
    every library's speed (on 2026-12-06, an AVX-512 machine where TF logs "oneDNN custom
    operations are on", every library ran 1.4-1.7x faster than on 2026-12-01)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {"cpu": platform.processor()}
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "")
    return {"cpu": model, "avx512": " avx512f " in info.replace("\n", " ")}


def environment():
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        **_cpu(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def write_results(name, results):
    """bench/results/<name>.json, never half-written."""
    from seqgraph.apps.common import write_json

    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    write_json(path, {"environment": environment(), **results})
    print(f"wrote {path}")
