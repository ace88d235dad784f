"""LiteRT latency and memory of every exported app's float and int8 .tflite files, as a device
runs them: one input per call (one graph, one image, one utterance, one word), with 1 and with 2
threads. Each (file, threads) runs in a process of its own (LiteRT and NumPy only), which reports
its median time per call and its peak resident memory above what it held before loading the
model (the model, its tensor arena and the calls). No peer: the ratios are int8 / float and
2 threads / 1 thread.

    make demo                          # or: seqgraph <app> export ... for each app
    python -m bench.edge_latency [--models saved_models] [--repeats 200]

The inputs are each version's first warmup request (held-out data), cut to one example.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

APPS = ("graph", "image", "skipgram", "speech")


def one_input(app, feed):
    """The first example of a warmup request (a TFLite input dict)."""
    import numpy as np

    if app == "graph":  # graph 0 of the disjoint batch
        nodes = np.flatnonzero(feed["graph_ids"] == 0)
        edges = np.isin(feed["senders"], nodes)
        return {
            "node_features": feed["node_features"][nodes],
            "senders": feed["senders"][edges],
            "receivers": feed["receivers"][edges],
            "graph_ids": np.zeros(len(nodes), np.int32),
            "num_graphs": np.int32(1),
        }
    if app == "skipgram":
        return {"words": np.array(feed["words"][:1], dtype="S")}
    return {name: value[:1] for name, value in feed.items()}


def measure(path, inputs, threads, repeats):
    """In this process: (median seconds per call, peak MB above the start); see ``main``."""
    import resource
    import time

    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    feed = dict(np.load(inputs))
    feed = {k: (v.astype("S") if v.dtype.kind == "U" else v) for k, v in feed.items()}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    runner = interpreter.get_signature_runner("serving_default")
    types = {name: d["dtype"] for name, d in runner.get_input_details().items()}
    feed = {name: np.asarray(feed[name], dtype=types[name]) for name in types}
    for _ in range(5):
        runner(**feed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        runner(**feed)
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
    return float(np.median(times)), (peak - before) / 1024


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="saved_models", help="the export root")
    parser.add_argument("--repeats", type=int, default=200, help="timed calls per file and thread count")
    parser.add_argument("--one", nargs=4, metavar=("FILE", "INPUTS", "THREADS", "REPEATS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        seconds, megabytes = measure(args.one[0], args.one[1], int(args.one[2]), int(args.one[3]))
        print(json.dumps({"ms": seconds * 1e3, "peak_mb": megabytes}))
        return

    import numpy as np

    from bench.common import write_results
    from seqgraph.apps import tf_serving

    rows = []
    root = Path(args.models)
    with tempfile.TemporaryDirectory() as tmp:
        for app in APPS:
            folder = root / app
            if not folder.is_dir() or not tf_serving.versions(folder):
                print(f"{app}: no export in {folder}, skipped")
                continue
            version = folder / str(tf_serving.versions(folder)[-1])
            feed = one_input(app, next(f for s, f in tf_serving.read_warmup(version) if s == "serving_default"))
            inputs = Path(tmp) / f"{app}.npz"
            np.savez(inputs, **feed)
            for kind, name in (("float", f"{app}.tflite"), ("int8", f"{app}_int8.tflite")):
                for threads in (1, 2):
                    out = subprocess.run(
                        [
                            sys.executable,
                            "-m",
                            "bench.edge_latency",
                            "--one",
                            str(version / name),
                            str(inputs),
                            str(threads),
                            str(args.repeats),
                        ],  # fmt: skip
                        capture_output=True,
                        text=True,
                        check=True,
                    )
                    row = {"app": app, "file": name, "kind": kind, "threads": threads, **json.loads(out.stdout)}
                    row["bytes"] = (version / name).stat().st_size
                    rows.append(row)
                    print(
                        f"{app:<9} {kind:<5} {threads} thread(s): {row['ms']:8.3f} ms/call, "
                        f"peak +{row['peak_mb']:.1f} MB ({row['bytes'] / 1e3:,.0f} kB file)",
                        flush=True,
                    )
    by = {(r["app"], r["kind"], r["threads"]): r for r in rows}
    ratios = {
        app: {
            "int8_vs_float_1_thread": by[(app, "int8", 1)]["ms"] / by[(app, "float", 1)]["ms"],
            "two_vs_one_thread_float": by[(app, "float", 2)]["ms"] / by[(app, "float", 1)]["ms"],
        }
        for app in APPS
        if (app, "int8", 1) in by
    }
    inputs_described = "one graph, one image, one utterance, one word (each version's first warmup request)"
    write_results("edge_latency", {"models": str(root), "inputs": inputs_described, "rows": rows, "ratios": ratios})


if __name__ == "__main__":
    main()
