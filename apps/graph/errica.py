"""Errica et al. 2020's protocol ("A Fair Comparison of Graph Neural Networks for Graph
Classification", ICLR 2020): settings and epoch chosen on a validation split inside each outer
fold, the outer test fold scored once."""

import contextlib
import dataclasses
import functools
import itertools
import json
import os
import threading
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import keras
import numpy as np

from seqgraph.apps import common
from seqgraph.apps.common import (
    ConfigError,
    TrainingError,
    child_processes,
    pyplot,
    save_figure,
    save_keras,
    write_json,
)
from seqgraph.apps.training import distributed
from seqgraph.datasets import graphs

RETRAINS = 3  # the chosen setting is retrained this many times per fold and their test scores averaged
TRAININGS_PER_PROCESS = 20  # then a fresh process (``trainer``): ~8 s to start, 2-3% of 20 GIN trainings


class Patience(keras.callbacks.EarlyStopping):
    """Errica et al.'s early stopping (their ``Patience``): Keras' ``EarlyStopping`` except that
    a score equal to the best so far counts as better, so the later of tied epochs is the one
    kept and the wait starts again. On a small validation split accuracy ties often: on
    ENZYMES (54 validation graphs) Keras' rule stopped DeepSets after 40-77 epochs at the first
    tied best, this rule after 41-291, 61.0% -> 68.2% on the test folds.

    Args:
        monitor, patience, mode, ...: as ``keras.callbacks.EarlyStopping``.

    Returns:
        A Keras callback; its ``best_epoch`` (0-based) is the last epoch of the best score.

    Example:

    >>> stop = Patience("val_accuracy", patience=20, mode="max", restore_best_weights=True)
    >>> model.fit(x, y, validation_data=(xv, yv), epochs=300, callbacks=[stop])
    """

    def _is_improvement(self, monitor_value, reference_value):
        return (
            reference_value is None
            or monitor_value == reference_value
            or super()._is_improvement(monitor_value, reference_value)
        )


def kept_epoch(scores, mode):
    """The epoch (0-based) ``Patience`` keeps of a history of ``scores``: the last of the lowest
    (``mode="min"``) or highest (``"max"``)."""
    scores = np.asarray(scores)
    best = scores.min() if mode == "min" else scores.max()
    return int(np.flatnonzero(scores == best)[-1])


TUNABLE = ("hidden", "layers", "batch_size", "dropout", "lr", "readout", "train_eps", "steps_per_epoch", "stop_on")

# Errica et al.'s grid for GIN (their config_GIN.yml): width x depth as their hidden_units lists
# ([64]*4, [32]*4, [64], [32, 32] graph layers), batch 32/128, dropout 0/0.5, a learned or fixed
# epsilon, sum or mean readout; Adam at 0.01 halved every 50 epochs. 64 settings.
_GIN_SHARED = {"batch_size": [32, 128], "dropout": [0.0, 0.5], "train_eps": [True, False], "readout": ["sum", "mean"]}
GRIDS = {
    "gin": [
        {"hidden": [64, 32], "layers": [5], **_GIN_SHARED},
        {"hidden": [64], "layers": [2], **_GIN_SHARED},
        {"hidden": [32], "layers": [3], **_GIN_SHARED},
    ],
    # The other graph layers: the same widths, depths, batches and dropouts (16 settings).
    **{
        kind: [{"hidden": [32, 64], "layers": [3, 5], "batch_size": [32, 128], "dropout": [0.0, 0.5]}]
        for kind in ("gat", "cheb", "gcn", "sage")
    },
    # The baselines: Errica et al.'s widths and batches for them (no weight decay here), learning
    # rates that reach a minimum within our shorter training, and, as their grids have it, each
    # setting stopped on the validation loss and on the validation accuracy: 24 settings each.
    "mlp": [
        {
            "hidden": [32, 128, 256],
            "batch_size": [32, 128],
            "lr": [0.001, 0.01],
            "dropout": [0.0],
            "stop_on": ["loss", "accuracy"],
        }
    ],
    "deepsets": [
        {
            "hidden": [32, 64, 128, 256],
            "batch_size": [32],
            "lr": [0.0001, 0.001, 0.01],
            "dropout": [0.0],
            "stop_on": ["loss", "accuracy"],
        }
    ],
}


def train_setting(
    config, dataset, setting, seed, fold, train_idx, valid_idx, test_idx=None, save_to=None, distribution=None
):
    """One training of the protocol: ``config`` with the grid's ``setting`` and ``seed``, trained
    on the graphs ``train_idx`` of ``dataset`` (fold ``fold``), stopped by ``Patience`` on the
    validation graphs ``valid_idx`` and taken back to its kept epoch; then, if ``test_idx`` is
    given, scored once on those graphs (and saved to ``save_to`` if given); under
    ``distribution``, a ``tf.distribute`` strategy (default: one device).

    Returns:
        The training's record: the setting, epochs run, the kept epoch (1-based) with its
        validation loss and accuracy, seconds, the Keras history and, with ``test_idx``, the
        ``test_accuracy``.
    """
    from seqgraph.apps.graph.train import fit_fold

    setting_config = dataclasses.replace(config, **setting, seed=seed)
    watched = f"val_{setting_config.stop_on}"
    mode = "min" if setting_config.stop_on == "loss" else "max"
    stop = Patience(watched, patience=config.patience, mode=mode, restore_best_weights=True)
    model, history, seconds = fit_fold(
        setting_config, dataset, train_idx, valid_idx, fold, None, distribution, "none", callbacks=[stop]
    )
    best = kept_epoch(history[watched], mode)  # the epoch Patience restored
    result = {
        "setting": setting,
        "epochs": len(history["val_loss"]),
        "best_epoch": best + 1,
        "val_loss": float(history["val_loss"][best]),
        "val_accuracy": float(history["val_accuracy"][best]),
        "seconds": seconds,
        "history": history,
    }
    if test_idx is not None:  # the restored weights, scored once on the outer test fold
        scores = model.evaluate(graphs.tf_dataset(dataset, test_idx, 128), verbose=0, return_dict=True)
        result["test_accuracy"] = float(scores["accuracy"])
        if save_to is not None:
            save_keras(model, save_to)
    return result


@contextlib.contextmanager
def trainer(distribution, jobs=1):
    """``train_setting`` as the protocol runs it: on one device, in ``jobs`` child processes at
    once (each on its share of the CPU cores), a fresh one replacing each after
    ``TRAININGS_PER_PROCESS`` trainings; under a ``tf.distribute`` strategy of ours
    (``distribution``), one at a time in this process, where its replicas or cluster live.

    TensorFlow keeps ~50 MB of every Keras ``fit`` of a graph model after the model is gone
    (its traced graphs; ``keras.backend.clear_session`` does not return them:
    keras-team/keras#21090), so one process running a 670-training grid grows past 14 GB; a
    child's memory goes back to the system when it exits. A child dies with this process. A
    small graph model's training keeps about one core busy whatever its threads, so on 2 cores
    2 jobs of one thread each train twice as many settings per hour as one job of two.

    Yields:
        ``submit``: called with ``train_setting``'s arguments, it returns a
        ``concurrent.futures.Future`` of its result.

    Example:

    >>> with trainer(strategy(), jobs=2) as submit:
    ...     future = submit(config, dataset, {"hidden": 32}, 0, 0, train_idx, valid_idx)
    ...     record = future.result()
    """
    if distributed(distribution):

        def submit(*args):
            future = Future()
            future.set_result(train_setting(*args, distribution=distribution))
            return future

        yield submit
        return
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None
    with child_processes(jobs, TRAININGS_PER_PROCESS, common.QUIET, threads) as submit:
        try:
            yield functools.partial(submit, train_setting)
        except BrokenProcessPool:
            raise TrainingError(
                "a training process died (killed, or out of memory?); the run keeps its finished trainings: "
                "run the same command again to resume"
            ) from None


def settings(grid):
    """The settings of a grid, in order: a dict of option -> list of values is their product; a
    list of such dicts is the union of their products (scikit-learn's ``ParameterGrid``).

    Args:
        grid: ``{"hidden": [32, 64], "dropout": [0, 0.5]}`` or a list of such dicts.

    Returns:
        A list of ``{option: value}`` dicts.

    Example:

    >>> settings({"hidden": [32, 64], "dropout": [0.0]})
    [{'hidden': 32, 'dropout': 0.0}, {'hidden': 64, 'dropout': 0.0}]
    """
    out = []
    for part in grid if isinstance(grid, list) else [grid]:
        keys = list(part)
        out += [dict(zip(keys, values)) for values in itertools.product(*(part[k] for k in keys))]
    return out


def load_grid(config):
    """``(source, settings)``: the settings of ``config.grid`` (a JSON file) or the model's
    default grid, each checked as a ``GraphConfig``; errors name the file and the setting."""
    if config.grid is None:
        return f"default grid for {config.model}", settings(GRIDS[config.model])
    path = Path(config.grid)
    try:
        grid = json.loads(path.read_text())
    except OSError as e:
        raise ConfigError(f"--grid {path}: cannot read it ({e.strerror})") from None
    except ValueError as e:
        raise ConfigError(f"--grid {path}: not valid JSON ({e})") from None
    parts = grid if isinstance(grid, list) else [grid]
    for part in parts:
        if not isinstance(part, dict) or not all(isinstance(v, list) and v for v in part.values()):
            raise ConfigError(f"--grid {path}: expected {{option: [values, ...]}} or a list of them")
        unknown = sorted(set(part) - set(TUNABLE))
        if unknown:
            raise ConfigError(f"--grid {path}: {', '.join(unknown)} cannot be searched (options: {', '.join(TUNABLE)})")
    chosen = settings(grid)
    for i, setting in enumerate(chosen):
        try:
            dataclasses.replace(config, **setting)
        except ConfigError as e:
            raise ConfigError(f"--grid {path}: setting {i + 1} {setting}: {e}") from None
    return str(path), chosen


def validation_split(labels, train_idx, seed):
    """Errica et al.'s holdout: a stratified 90/10 split of an outer fold's training graphs
    ``train_idx`` into ``(inner training, validation)`` indices of the dataset."""
    inner, valid = graphs.stratified_folds(labels[train_idx], 1, seed=seed)[0]
    return train_idx[inner], train_idx[valid]


def assess(config, dataset, folds, run, distribution, progress, jobs=1):
    """Errica et al.'s protocol on ``folds`` (outer stratified folds). In each fold:

    1. a stratified 90/10 holdout of the fold's training graphs (``validation_split``);
    2. every setting of the grid (``load_grid``) trained on the 90%, stopped once its
       validation loss (``stop_on="loss"``) or accuracy (``"accuracy"``) has not improved for
       ``config.patience`` epochs (at most ``config.epochs``), its weights taken back to the
       last epoch where that score was best (``Patience``: ties count as better, as theirs);
    3. the setting with the highest validation accuracy there (ties: lower validation loss,
       then the earlier setting), as Errica et al.'s code chooses;
    4. that setting retrained ``RETRAINS`` times (other initial weights and batch orders, the
       same early stopping) and each scored once on the fold's test graphs; their mean is the
       fold's accuracy.

    The test graphs are used by nothing but step 4's scores. ``jobs`` trainings of a fold run at
    once (``trainer``). Each training is kept in the run's state as it finishes, so an
    interrupted run resumes with the trainings not finished. Keeps fold 1's first retrained
    model (``model.keras``) and plots the choice (``selection.png``).

    Returns:
        The metrics: the protocol, the grid, per fold the chosen setting, every setting's
        validation score and the retrained runs' test accuracies; the mean and spread over folds.
    """
    source, grid = load_grid(config)
    print(f"protocol errica: {len(grid)} settings ({source}), {RETRAINS} retrained runs per fold")
    done_path = run.state / "errica.json"  # finished trainings, by name
    if run.chief:
        run.state.mkdir(exist_ok=True)
    done = json.loads(done_path.read_text()) if done_path.exists() else {}

    recording = threading.Lock()  # finished trainings are recorded as they finish, in any order

    def record(name, future):
        if not future.cancelled() and future.exception() is None:
            with recording:
                done[name] = future.result()
                if run.chief:
                    write_json(done_path, done)

    def trained(name, setting, seed, fold, train_idx, valid_idx, test_idx=None):
        """A future of training ``setting`` once (or of the finished training ``name`` in the state)."""
        if name in done:
            future = Future()
            future.set_result({**done[name], "kept": True})
            return future
        keep = test_idx is not None and fold == 0 and run.chief and name.endswith("retrain-1")
        save_to = run.path / "model.keras" if keep else None
        future = submit(config, dataset, setting, seed, fold, train_idx, valid_idx, test_idx, save_to)
        future.add_done_callback(functools.partial(record, name))
        return future

    per_fold = []
    with trainer(distribution, jobs) as submit:
        for fold, (train_idx, test_idx) in enumerate(folds):
            inner_idx, valid_idx = validation_split(dataset.labels, train_idx, config.seed + fold)
            print(
                f"fold {fold + 1}/{config.folds}: {len(inner_idx)} training graphs, {len(valid_idx)} validation, "
                f"{len(test_idx)} test"
            )
            futures = [
                trained(f"fold-{fold + 1}/setting-{i + 1}", setting, config.seed, fold, inner_idx, valid_idx)
                for i, setting in enumerate(grid)
            ]
            scores = []
            for i, (setting, future) in enumerate(zip(grid, futures)):
                r = future.result()
                scores.append(r)
                print(
                    f"  setting {i + 1}/{len(grid)} {_describe(setting)}: validation accuracy {r['val_accuracy']:.4f}, "
                    f"loss {r['val_loss']:.4f} (epoch {r['best_epoch']} of {r['epochs']}, {r['seconds']:.0f} s)"
                    + (", kept from before the resume" if r.get("kept") else ""),
                    flush=True,
                )
            chosen = min(range(len(grid)), key=lambda i: (-scores[i]["val_accuracy"], scores[i]["val_loss"], i))
            futures = [
                trained(
                    f"fold-{fold + 1}/retrain-{k + 1}",
                    grid[chosen],
                    config.seed + 1000 * (k + 1),
                    fold,
                    inner_idx,
                    valid_idx,
                    test_idx,
                )
                for k in range(RETRAINS)
            ]
            runs = [future.result() for future in futures]
            accuracies = [r["test_accuracy"] for r in runs]
            print(
                f"  chose setting {chosen + 1} {_describe(grid[chosen])}; test accuracy of {RETRAINS} retrained runs "
                f"{', '.join(f'{a:.4f}' for a in accuracies)}: {np.mean(accuracies):.4f}",
                flush=True,
            )
            per_fold.append(
                {
                    "chosen_setting": grid[chosen],
                    "chosen_index": chosen + 1,
                    "validation": [
                        {k: r[k] for k in ("val_accuracy", "val_loss", "best_epoch", "epochs")} for r in scores
                    ],
                    "test_accuracies": accuracies,
                    "retrained_best_epochs": [r["best_epoch"] for r in runs],
                    "retrained_val_losses": [r["val_loss"] for r in runs],
                    "retrained_val_accuracies": [r["val_accuracy"] for r in runs],
                    "test_accuracy": float(np.mean(accuracies)),
                }
            )
    fold_accuracies = [f["test_accuracy"] for f in per_fold]
    seconds = float(sum(r["seconds"] for r in done.values()))
    metrics = {
        "protocol": "errica",
        "dataset": dataset.name,
        "model": config.model,
        "folds": config.folds,
        "max_epochs": config.epochs,
        "patience": config.patience,
        "stop_on": config.stop_on,  # unless the grid sets it per setting
        "grid_source": source,
        "grid": grid,
        "retrains": RETRAINS,
        "accuracy": float(np.mean(fold_accuracies)),
        "accuracy_mean": float(np.mean(fold_accuracies)),
        "accuracy_std": float(np.std(fold_accuracies)),
        "fold_accuracies": fold_accuracies,
        "per_fold": per_fold,
        "trainings": len(done),
        "wall_time_s": seconds,  # the trainings' time, summed over resumes
    }
    if run.chief:
        plot_selection(per_fold, run.path / "selection.png", f"{dataset.name}, {config.model}")
    print(f"\n{'fold':>6} {'setting':>8} {'test accuracy':>14}")
    for fold, f in enumerate(per_fold):
        print(f"{fold + 1:>6} {f['chosen_index']:>8} {f['test_accuracy']:>14.4f}")
    print(f"{'mean':>6} {'':>8} {metrics['accuracy_mean']:>14.4f}  (std {metrics['accuracy_std']:.4f})")
    return metrics


def plot_selection(per_fold, path, title):
    """``path`` (PNG): each fold's validation accuracy of every setting, the chosen ones marked,
    and each fold's test accuracy (the mean of its retrained runs) beside their mean."""
    plt = pyplot()
    fig, (grid_ax, test_ax) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [2, 1]})
    for fold, f in enumerate(per_fold):
        accuracy = [v["val_accuracy"] for v in f["validation"]]
        grid_ax.plot(range(1, len(accuracy) + 1), accuracy, ".-", alpha=0.35, color=f"C{fold % 10}")
        grid_ax.plot(f["chosen_index"], accuracy[f["chosen_index"] - 1], "*", ms=12, color=f"C{fold % 10}")
    grid_ax.xaxis.get_major_locator().set_params(integer=True)
    grid_ax.set(xlabel="setting", ylabel="validation accuracy", title=f"{title}: settings per fold (* chosen)")
    tests = [f["test_accuracy"] for f in per_fold]
    test_ax.bar(range(1, len(tests) + 1), tests, color=[f"C{i % 10}" for i in range(len(tests))])
    test_ax.axhline(np.mean(tests), color="k", lw=1, label=f"mean {np.mean(tests):.3f}")
    test_ax.set(xlabel="fold", ylabel="test accuracy", ylim=(0, 1), title="test folds, scored once")
    test_ax.legend(loc="lower right")
    for ax in (grid_ax, test_ax):
        ax.grid(alpha=0.3)
    save_figure(fig, path)


def _describe(setting):
    return ", ".join(f"{k} {v}" for k, v in setting.items())
