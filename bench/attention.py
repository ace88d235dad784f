"""Self-attention benchmarks (forward + backward, TensorFlow backend, CPU).

1. Our full self-attention vs ``keras.layers.MultiHeadAttention`` with the same sizes,
   T = 128..2048, timed in alternation in one process: ratio = ours / peer (<= 1 is good).
2. Truncated (window 64) vs full attention, T = 1k..32k, each size in its own subprocess so
   its peak memory can be read (VmHWM) and a run past the memory budget stopped.

    python -m bench.attention [--quick] [--budget-gb 12]
"""

import argparse
import json
import os
import subprocess
import sys
import time

HEADS, KEY_DIM, FEATURES, WINDOW = 4, 16, 64, 64


def _build(kind, seq_len, batch):
    import keras
    import numpy as np
    import tensorflow as tf

    from seqgraph import layers

    x = tf.constant(np.random.default_rng(0).normal(size=(batch, seq_len, FEATURES)).astype("float32"))
    if kind == "keras_mha":
        layer = keras.layers.MultiHeadAttention(HEADS, KEY_DIM)

        def call():
            return layer(x, x)
    else:
        layer = layers.MultiHeadSelfAttention(HEADS, KEY_DIM, window=WINDOW if kind == "truncated" else None)

        def call():
            return layer(x)

    call()  # build

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = call()
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x] + layer.trainable_weights)

    return lambda: step()[0].numpy()


def compare_with_keras(lengths, batch, repeats):
    from bench.common import interleaved

    rows = []
    for t in lengths:
        times = interleaved(
            {"ours": _build("full", t, batch), "keras_mha": _build("keras_mha", t, batch)}, repeats=repeats
        )
        row = {
            "seq_len": t,
            "batch": batch,
            "ours_ms": 1e3 * times["ours"],
            "keras_mha_ms": 1e3 * times["keras_mha"],
            "ratio": times["ours"] / times["keras_mha"],
        }
        print(
            f"T={t:5d}  ours {row['ours_ms']:8.1f} ms  keras MHA {row['keras_mha_ms']:8.1f} ms  "
            f"ratio {row['ratio']:.2f}",
            flush=True,
        )
        rows.append(row)
    return rows


def _status(pid, field):
    """A memory figure in MB from /proc/<pid>/status (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def child(kind, seq_len, repeats):
    """Runs in a subprocess: prints seconds per step and the peak memory the step added."""
    step = _build(kind, seq_len, batch=1)
    before = _status(os.getpid(), "VmRSS")
    step()  # trace and first run
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    print(
        json.dumps({"seconds": sorted(times)[len(times) // 2], "peak_extra_mb": _status(os.getpid(), "VmHWM") - before})
    )


def run_guarded(kind, seq_len, budget_mb, repeats):
    """Run ``child`` in a subprocess; stop it if its resident memory passes the budget."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.attention", "--child", kind, str(seq_len), str(repeats)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    peak = 0.0
    while proc.poll() is None:
        try:
            rss = _status(proc.pid, "VmRSS")
        except FileNotFoundError:
            break
        peak = max(peak, rss)
        if rss > budget_mb:
            proc.kill()
            proc.wait()
            return {"out_of_memory": True, "rss_mb_when_stopped": rss}
        time.sleep(0.02)
    out = proc.stdout.read().strip().splitlines()
    if proc.returncode != 0 or not out:
        return {"failed": True, "returncode": proc.returncode, "peak_rss_mb": peak}
    return json.loads(out[-1])


def truncated_vs_full(lengths, budget_mb, repeats):
    rows, full_failed = [], False
    for t in lengths:
        row = {"seq_len": t}
        for kind in ("truncated", "full"):
            if kind == "full" and full_failed:
                row[kind] = {"out_of_memory": True, "skipped": "a shorter sequence already ran out"}
                continue
            row[kind] = run_guarded(kind, t, budget_mb, repeats)
            full_failed |= kind == "full" and "seconds" not in row[kind]

        def show(r):
            if "seconds" in r:
                return f"{1e3 * r['seconds']:9.1f} ms {r['peak_extra_mb']:8.0f} MB"
            return f"{'out of memory budget':>23}"

        print(f"T={t:6d}  truncated {show(row['truncated'])}   full {show(row['full'])}", flush=True)
        rows.append(row)
    return rows


def plot_scaling(rows, path):
    """Time and peak memory of truncated vs full attention against T, log-log, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for kind, style in (("truncated", "o-"), ("full", "s--")):
        done = [r for r in rows if "seconds" in r[kind]]
        lengths = [r["seq_len"] for r in done]
        label = f"{kind} (window {WINDOW})" if kind == "truncated" else kind
        axes[0].loglog(lengths, [1e3 * r[kind]["seconds"] for r in done], style, label=label, base=2)
        axes[1].loglog(lengths, [r[kind]["peak_extra_mb"] for r in done], style, label=label, base=2)
    for ax, ylabel in zip(axes, ("forward+backward time (ms)", "peak extra memory (MB)")):
        ax.set_xlabel("sequence length T")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    oom = [r["seq_len"] for r in rows if "seconds" not in r["full"]]
    if oom:
        fig.suptitle(f"full attention ran out of the memory budget from T = {min(oom)}")
    fig.tight_layout()
    from seqgraph.apps.common import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    print(f"wrote {path}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    parser.add_argument("--budget-gb", type=float, default=12.0, help="memory budget per run")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, seq_len, repeats = args.child
        return child(kind, int(seq_len), int(repeats))

    from bench.common import RESULTS, write_results

    lengths = [128, 512] if args.quick else [128, 256, 512, 1024, 2048]
    long_lengths = [1024, 4096] if args.quick else [1024, 2048, 4096, 8192, 16384, 32768]
    repeats = 3 if args.quick else 10
    print(
        f"ours vs keras.layers.MultiHeadAttention: {HEADS} heads x {KEY_DIM}, {FEATURES} features, "
        "batch 4, forward+backward"
    )
    vs_keras = compare_with_keras(lengths, batch=4, repeats=repeats)
    print(f"truncated (window {WINDOW}) vs full attention, batch 1, forward+backward, budget {args.budget_gb:g} GB")
    scaling = truncated_vs_full(long_lengths, args.budget_gb * 1024, repeats=3)
    write_results(
        "attention",
        {
            "setup": {
                "heads": HEADS,
                "key_dim": KEY_DIM,
                "features": FEATURES,
                "window": WINDOW,
                "budget_gb": args.budget_gb,
                "quick": args.quick,
            },
            "vs_keras_mha": vs_keras,
            "truncated_vs_full": scaling,
        },
    )
    plot_scaling(scaling, RESULTS / "attention_scaling.png")


if __name__ == "__main__":
    main()
