"""``seqgraph image data-scaling``: CNN against self-attention as the training set grows."""

import dataclasses

import numpy as np

from seqgraph.apps.common import (
    atomic_path,
    pyplot,
    read_json,
    require,
    run_dir,
    run_status,
    save_config,
    save_figure,
    strategy,
    training_run,
    write_json,
)
from seqgraph.apps.image.train import fit, load_images


def data_scaling(config, models=("cnn", "vit"), fractions=(0.1, 0.25, 0.5, 1.0), seeds=(0, 1, 2), out=None):
    """Train each of ``models`` on growing stratified subsets (``fractions``) of the training
    split, with ``seeds``: the same test split and the same number of updates (``config.epochs``
    counted on the full split) for every size. Writes ``data_scaling.json``, ``.md`` and ``.png``
    to ``out`` (default ``runs/image-scaling/<timestamp>``), and a run folder per model, size and
    seed in it: re-run with the same ``out``, it skips the runs finished and resumes the others.

    Args:
        config: an ``ImageConfig``: the data, the schedule and the networks' options (its
            ``model`` and ``seed`` are replaced by each of ``models`` and ``seeds``).
        models: two models to compare (the table says where the second overtakes the first).
        fractions: shares of the training split, in (0, 1].
        seeds: a run per seed and size.
        out: the output folder.

    Returns:
        The result written to data_scaling.json.
    """
    from sklearn.model_selection import train_test_split

    for fraction in fractions:
        require(0 < fraction <= 1, "fractions", f"must lie in (0, 1], got {fraction}")
    dataset, train_idx, test_idx = load_images(config)
    out = run_dir("image-scaling", out)
    steps = int(np.ceil(len(train_idx) / config.batch_size))
    rows = []
    for fraction in fractions:
        for seed in seeds:
            subset = train_idx
            if fraction < 1:
                subset, _ = train_test_split(
                    train_idx, train_size=fraction, stratify=dataset.labels[train_idx], random_state=seed
                )
            for kind in models:
                run_config = dataclasses.replace(config, model=kind, seed=seed)
                rows.append(
                    train_once(
                        run_config, dataset, np.sort(subset), test_idx, steps, out / f"{kind}-{fraction:g}-seed{seed}"
                    )
                )
                rows[-1].update(fraction=fraction)
                print(
                    f"{kind:>6} {len(subset):>6} training images, seed {seed}: "
                    f"test accuracy {rows[-1]['accuracy']:.4f} ({rows[-1]['seconds']:.0f} s)",
                    flush=True,
                )
    summary = _scaling_summary(rows, models, fractions)
    result = {
        "dataset": dataset.name,
        "epochs": config.epochs,
        "updates": steps * config.epochs,
        "test_images": int(len(test_idx)),
        "runs": rows,
        "summary": summary,
        "crossing": _crossing(summary, models),
    }
    write_json(out / "data_scaling.json", result)
    table = _scaling_table(summary, models, result["crossing"])
    with atomic_path(out / "data_scaling.md") as tmp:
        tmp.write_text(table)
    _plot_scaling(summary, models, dataset.name, out / "data_scaling.png")
    print("\n" + table + f"\nwrote {out}/data_scaling.json, data_scaling.md, data_scaling.png")
    return result


def train_once(config, dataset, train_idx, test_idx, steps, folder):
    """One data-scaling run in ``folder``, or its result if it has finished already."""
    if run_status(folder) != "finished":
        with training_run("image", folder, config) as run:
            save_config(config, run.path / "config.json", "image")
            _, history, seconds = fit(config, dataset, train_idx, test_idx, run, strategy(), steps)
            run.finish({"accuracy": float(history["val_accuracy"][-1]), "seconds": seconds})
    metrics = read_json(folder / "metrics.json")
    return {
        "model": config.model,
        "training_images": int(len(train_idx)),
        "seed": config.seed,
        "accuracy": metrics["accuracy"],
        "seconds": metrics["seconds"],
    }


def _scaling_summary(rows, models, fractions):
    summary = []
    for fraction in fractions:
        entry = {"fraction": fraction}
        for kind in models:
            acc = [r["accuracy"] for r in rows if r["model"] == kind and r["fraction"] == fraction]
            entry["training_images"] = next(r["training_images"] for r in rows if r["fraction"] == fraction)
            entry[kind] = {"mean": float(np.mean(acc)), "std": float(np.std(acc)), "seeds": len(acc)}
        summary.append(entry)
    return summary


def _crossing(summary, models):
    """The first training-set size at which the second model's mean accuracy reaches the first's
    after being below it, or None (stated as such: no crossing in the sizes tried)."""
    if len(models) != 2:
        return None
    first, second = models
    below = False
    for entry in summary:
        if entry[second]["mean"] < entry[first]["mean"]:
            below = True
        elif below:
            return entry["training_images"]
    return None


def _scaling_table(summary, models, crossing):
    header = "| training images | " + " | ".join(f"{m} accuracy (mean ± std)" for m in models) + " |\n"
    lines = [header, "|---:|" + "---:|" * len(models) + "\n"]
    for entry in summary:
        cells = " | ".join(f"{100 * entry[m]['mean']:.2f}% ± {100 * entry[m]['std']:.2f}" for m in models)
        lines.append(f"| {entry['training_images']} ({entry['fraction']:.0%}) | {cells} |\n")
    if len(models) == 2:
        lines.append(
            f"\n{models[1]} overtakes {models[0]} at {crossing} training images.\n"
            if crossing
            else f"\nNo crossing in the sizes tried: {models[1]} does not overtake {models[0]} after trailing it.\n"
        )
    return "".join(lines)


def _plot_scaling(summary, models, name, path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = [e["training_images"] for e in summary]
    for kind in models:
        mean = np.array([e[kind]["mean"] for e in summary])
        std = np.array([e[kind]["std"] for e in summary])
        ax.errorbar(sizes, 100 * mean, yerr=100 * std, marker="o", capsize=3, label=kind)
    ax.set_xscale("log")
    ax.set_xlabel("training images")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{name}: accuracy vs training-set size (mean ± std over seeds)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path)
