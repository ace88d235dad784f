"""What every app shares: run folders, files written safely, distribution strategies."""

import contextlib
import json
import os
import time
from pathlib import Path


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


def run_dir(app, out=None):
    """``out`` or ``runs/<app>/<timestamp>/``, created."""
    path = Path(out) if out else Path("runs") / app / time.strftime("%Y%m%d-%H%M%S")
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json(path, data):
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def read_json(path):
    path = Path(path)
    if not path.exists():
        raise SystemExit(f"error: {path} not found (is --run a folder written by `train`?)")
    return json.loads(path.read_text())


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


def save_keras(model, path):
    with atomic_path(path) as tmp:
        model.save(tmp)


def load_run(run):
    """(config.json, model.keras) of a run folder written by an app's ``train``."""
    import keras

    import layers  # noqa: F401  (registers the custom layers)

    config = read_json(Path(run) / "config.json")
    return config, keras.saving.load_model(Path(run) / "model.keras")
