"""Graph classification accuracy of every model under both protocols, Xu et al. 2019's and
Errica et al. 2020's, on MUTAG, PROTEINS and ENZYMES (seed 0).

    python -m bench.graph_protocols --data-dir ../shared/data/tu --runs runs/protocols \
        [--protocols xu errica] [--datasets MUTAG ...] [--models gin mlp ...] [--jobs 2] [--collect-only]

Each run is one ``seqgraph graph train`` command into ``RUNS/<protocol>/<DATASET>-<model>``
(PROTEINS with ``--no-node-attributes``, the node labels both papers' code reads),
started only where that folder has no ``metrics.json`` (an unfinished run resumes), so the
grid can be run a piece at a time or from several shells at once, one run folder each; the
runs in the results file whose folders are not under ``--runs`` are kept, each with its date. Xu:
the app's defaults, 100 epochs, the test accuracy of the last epoch and of the epoch whose
fold-averaged test accuracy is highest. Errica: the model's default grid, at most 300 epochs,
patience 20. Writes ``results/graph_protocols.json`` (every finished run's metrics and
command) and prints a Markdown table.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

PROTOCOLS = {"xu": ["--epochs", "100"], "errica": ["--epochs", "300"]}
DATASETS = ("MUTAG", "PROTEINS", "ENZYMES")
# The node features both papers' code reads: PROTEINS' 3 node labels without its attribute
# (Errica et al. load PROTEINS_full without attributes, Xu et al. the labels); ENZYMES' 3 labels
# and 18 attributes (Errica et al.: use_node_attrs for ENZYMES only).
DATASET_OPTIONS = {"PROTEINS": ["--no-node-attributes"]}
MODELS = ("gin", "gat", "cheb", "gcn", "sage", "mlp", "deepsets")
# Errica et al. 2020, Table 3 (mean of 10 outer folds): the figures issue 25 names, and their GraphSAGE.
ERRICA_PAPER = {
    ("PROTEINS", "gin"): 73.3,
    ("ENZYMES", "gin"): 59.6,
    ("PROTEINS", "mlp"): 75.8,
    ("ENZYMES", "deepsets"): 65.2,  # their ENZYMES baseline is DeepMultisets (config_BaselineENZYMES.yml)
    # Their GraphSAGE, for reference: their grid (config_GraphSAGE.yml) shares our widths and
    # depths, and searches sum/max/mean aggregation and learning rates at batch 32 with max readout.
    ("PROTEINS", "sage"): 73.0,
    ("ENZYMES", "sage"): 58.2,
}


def command(protocol, dataset, model, data_dir, out, jobs=1):
    return [
        *("seqgraph", "graph", "train", "--dataset", dataset, "--data-dir", str(data_dir)),
        *("--model", model, "--protocol", protocol, *PROTOCOLS[protocol], "--progress", "none"),
        *DATASET_OPTIONS.get(dataset, []),
        *(("--jobs", str(jobs)) if protocol == "errica" and jobs > 1 else ()),
        *("--out", str(out)),
    ]


def summary(protocol, metrics):
    """The row of one finished run: accuracies in %, wall time in minutes."""
    row = {
        "accuracy": 100 * metrics["accuracy_mean"],
        "std": 100 * metrics["accuracy_std"],
        "wall_time_min": metrics["wall_time_s"] / 60,
    }
    if protocol == "xu":
        row["best_epoch"] = metrics["best_epoch"]
        row["accuracy_at_best_epoch"] = 100 * metrics["accuracy_mean_at_best_epoch"]
        row["std_at_best_epoch"] = 100 * metrics["accuracy_std_at_best_epoch"]
    else:
        row["trainings"] = metrics["trainings"]
        row["chosen_settings"] = [f["chosen_index"] for f in metrics["per_fold"]]
    return row


def table(rows):
    """Markdown: one line per dataset and model, Xu's two figures and Errica's, wall times."""
    lines = [
        "| dataset | model | Xu: last epoch | Xu: best averaged epoch | Errica | Errica et al. "
        "| wall time (Xu / Errica) |",
        "|---|---|---|---|---|---|---|",
    ]
    for dataset in DATASETS:
        for model in MODELS:
            xu, errica = rows.get(("xu", dataset, model)), rows.get(("errica", dataset, model))
            if not (xu or errica):
                continue
            xu_last = f"{xu['accuracy']:.1f} +- {xu['std']:.1f}" if xu else "-"
            xu_best = "-"
            if xu:
                xu_best = f"{xu['accuracy_at_best_epoch']:.1f} +- {xu['std_at_best_epoch']:.1f} ({xu['best_epoch']})"
            ours = f"**{errica['accuracy']:.1f} +- {errica['std']:.1f}**" if errica else "-"
            paper = ERRICA_PAPER.get((dataset, model))
            times = " / ".join(f"{r['wall_time_min']:.0f} min" if r else "-" for r in (xu, errica))
            label = f"baseline ({model})" if model in ("mlp", "deepsets") else model
            lines.append(f"| {dataset} | {label} | {xu_last} | {xu_best} | {ours} | {paper or '-'} | {times} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with the TU datasets")
    parser.add_argument("--runs", type=Path, default=Path("runs/protocols"), help="where the run folders go")
    parser.add_argument("--protocols", nargs="+", choices=list(PROTOCOLS), default=list(PROTOCOLS))
    parser.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--jobs", type=int, default=1, help="errica: trainings at once (seqgraph graph train --jobs)")
    parser.add_argument("--collect-only", action="store_true", help="start no run: collect the finished ones")
    args = parser.parse_args(argv)

    from bench.common import RESULTS, write_results

    # Runs recorded before whose folders are not under --runs now are kept, with their date.
    earlier_path = RESULTS / "graph_protocols.json"
    earlier = json.loads(earlier_path.read_text()) if earlier_path.exists() else {"runs": []}
    earlier_runs = {(r["protocol"], r["dataset"], r["model"]): r for r in earlier["runs"]}
    earlier_date = earlier.get("environment", {}).get("date", "")[:10]
    runs, rows, missing = [], {}, []
    for protocol in args.protocols:
        for dataset in args.datasets:
            for model in args.models:
                out = args.runs / protocol / f"{dataset}-{model}"
                cmd = command(protocol, dataset, model, args.data_dir, out, args.jobs)
                if not (out / "metrics.json").exists() and not args.collect_only:
                    print(" ".join(cmd), flush=True)
                    subprocess.run([sys.executable, "-m", *cmd], check=True)
                key = (protocol, dataset, model)
                if not (out / "metrics.json").exists():
                    if key in earlier_runs:
                        runs.append({"date": earlier_date, **earlier_runs[key]})
                        rows[key] = runs[-1]
                    else:
                        missing.append(f"{protocol} {dataset} {model}")
                    continue
                metrics = json.loads((out / "metrics.json").read_text())
                rows[key] = summary(protocol, metrics)
                date = time.strftime("%Y-%m-%d", time.localtime((out / "metrics.json").stat().st_mtime))
                run = {"protocol": protocol, "dataset": dataset, "model": model, "date": date, "command": " ".join(cmd)}
                runs.append({**run, **rows[key], "metrics": {k: v for k, v in metrics.items() if k != "grid"}})
    print(table(rows))
    if missing:
        print(f"not finished: {', '.join(missing)}")
    write_results(
        "graph_protocols",
        {"seed": 0, "protocols": {k: " ".join(v) for k, v in PROTOCOLS.items()}, "runs": runs, "not_finished": missing},
    )


if __name__ == "__main__":
    main()
