"""What every app shares: run folders, JSON written safely, distribution strategies."""

import json
import os
import time
from pathlib import Path


def run_dir(app, out=None):
    """``out`` or ``runs/<app>/<timestamp>/``, created."""
    path = Path(out) if out else Path("runs") / app / time.strftime("%Y%m%d-%H%M%S")
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_json(path, data):
    """Write through a temp file and rename, so a failed run never leaves half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


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
    """``model.save`` through a temp file, so an existing model survives a failed save."""
    path = Path(path)
    tmp = path.with_name("tmp-" + path.name)
    model.save(tmp)
    os.replace(tmp, path)
