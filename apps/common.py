"""What every app shares: run folders and their configs, files written safely, strategies, plots."""

import contextlib
import dataclasses
import json
import os
import time
from pathlib import Path

import seqgraph

# Set by the `seqgraph` command unless -v is given: native libraries' messages are hidden.
QUIET = False


class ConfigError(ValueError):
    """A training option with a value the app cannot use; the message names the option."""


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary sibling of ``path`` to write; it replaces ``path`` only if the block
    succeeds, so a failed run never leaves a half-written file (or loses the old one)."""
    path = Path(path)
    tmp = path.with_name(f"tmp-{path.name}")  # keeps the suffix: savefig/model.save read it
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.is_file():
            tmp.unlink()


@contextlib.contextmanager
def native_messages_hidden():
    """While the block runs, the process's stderr (file descriptor 2) goes to /dev/null when
    ``QUIET``: TensorFlow and LiteRT print start-up messages from C++ as they load (oneDNN, CUDA
    drivers, the XNNPACK delegate), before any log level they offer is read
    (tensorflow/tensorflow#100442). Python exceptions raised in the block are still shown."""
    if not QUIET:
        yield
        return
    import sys

    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def write_json(path, data):
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def read_json(path):
    path = Path(path)
    if not path.exists():
        raise SystemExit(f"error: {path} not found (is --run a folder written by `train`?)")
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise SystemExit(f"error: {path}: not valid JSON ({e})") from None


# ----------------------------------------------------------------------------- configs
def option(default, help, **argparse):
    """A config field that is also a ``train`` option: its default, its help text and any other
    ``argparse`` keywords (``choices``, ``nargs``, ``metavar``, ``type``). ``seqgraph.cli``
    builds the ``--option`` from it: ``--no-<name>`` for a field that is True by default."""
    return dataclasses.field(default=default, metadata={"help": help, **argparse})


def require(condition, option, message):
    """Raise ConfigError("--option message") unless ``condition``."""
    if not condition:
        raise ConfigError(f"--{option.replace('_', '-')} {message}")


def require_positive(config, *names):
    """Every option in ``names`` is None or at least 1."""
    for name in names:
        value = getattr(config, name)
        require(value is None or value >= 1, name, f"must be at least 1, got {value}")


def save_config(config, path, app, **facts):
    """``config.json``: the app, seqgraph's version, the options of ``config`` (a dataclass) and
    ``facts`` of the run that later commands need (label names, held-out indices, ...)."""
    write_json(path, {"app": app, "seqgraph_version": seqgraph.__version__, **dataclasses.asdict(config), **facts})


def load_config(cls, path, app):
    """``(config, facts)`` from a ``config.json`` written by ``save_config`` (or by seqgraph
    0.1, which wrote no "app"): the options ``cls`` has, the rest as a dict of facts. Options a
    file lacks take their defaults, so runs of earlier versions still load."""
    data = read_json(path)
    if data.get("app", app) != app:
        raise ConfigError(f"{path} is a config of the {data['app']} app, not of {app}")
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names}), {k: v for k, v in data.items() if k not in names}


# ----------------------------------------------------------------------------- runs
def run_dir(app, out=None):
    """``out`` or ``runs/<app>/<timestamp>/``, created."""
    path = Path(out) if out else Path("runs") / app / time.strftime("%Y%m%d-%H%M%S")
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_keras(model, path):
    with atomic_path(path) as tmp:
        model.save(tmp)


def load_model(run):
    """``model.keras`` of a run folder, with seqgraph's layers registered."""
    import keras

    from seqgraph import layers  # noqa: F401  (registers the custom layers)

    path = Path(run) / "model.keras"
    if not path.exists():
        raise SystemExit(f"error: {path} not found (is --run a folder written by `train`?)")
    return keras.saving.load_model(path)


def strategy(name):
    """The tf.distribute strategy for ``--distribute``: default, mirrored, multiworker."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise SystemExit("error: --distribute multiworker needs the TF_CONFIG environment variable")
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


FIT_VERBOSITY = {"bar": 1, "epoch": 2, "none": 0}  # --progress -> Keras' fit(verbose=...)


# ----------------------------------------------------------------------------- plots
def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path):
    """Write ``fig`` as a PNG (atomically) and close it."""
    with atomic_path(path) as tmp:
        fig.tight_layout()
        fig.savefig(tmp, dpi=100)
    pyplot().close(fig)


def plot_history(histories, path, held_out="held-out", title=None):
    """Learning curves from Keras histories (one per fold, or one): loss on a log scale, and
    accuracy when recorded, training and held-out; with several folds the mean, and a min..max
    band."""
    import numpy as np

    plt = pyplot()
    panels = ["loss"] + (["accuracy"] if "accuracy" in histories[0] else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    for ax, metric in zip(axes[0], panels):
        for key, label in ((metric, f"training {metric}"), (f"val_{metric}", f"{held_out} {metric}")):
            if key not in histories[0]:
                continue
            curves = np.array([h[key] for h in histories])
            epochs = np.arange(1, curves.shape[1] + 1)
            ax.plot(epochs, curves.mean(0), label=label)
            if len(curves) > 1:
                ax.fill_between(epochs, curves.min(0), curves.max(0), alpha=0.2)
        if metric == "loss":
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    if len(histories) > 1:
        axes[0, -1].set_title(f"mean over {len(histories)} folds, band = min..max")
    elif title:
        axes[0, -1].set_title(title)
    save_figure(fig, path)
