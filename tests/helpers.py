"""Shared test helpers."""

import keras
import pytest

BACKEND = keras.backend.backend()
tf_only = pytest.mark.skipif(BACKEND != "tensorflow", reason="needs the TensorFlow backend")


def weights_by_name(layer):
    """{'query_kernel': array, ...} from a built layer (the last part of each weight's path)."""
    return {w.path.split("/")[-1]: keras.ops.convert_to_numpy(w) for w in layer.weights}


def randomise(layer, rng, scale=0.5):
    """Random values for every weight, so no test passes on zero-initialised parameters."""
    for w in layer.weights:
        w.assign(rng.normal(0, scale, w.shape).astype("float32"))


def to_numpy(x):
    return keras.ops.convert_to_numpy(x)


def saved_model_cli_run(saved_model, signature, outdir, inputs=None, input_exprs=None):
    """Run a signature of a SavedModel through ``saved_model_cli run``, which loads it the way TF
    Serving does, on ``inputs`` (``name=file.npy;...``) or ``input_exprs`` (``name=[1, 2];...``);
    its outputs land in ``outdir/<name>.npy``. Returns the finished process."""
    import os
    import subprocess
    import sys

    feeds = ["--inputs", inputs] if inputs else ["--input_exprs", input_exprs]
    command = [
        sys.executable,
        "-m",
        "tensorflow.python.tools.saved_model_cli",
        "run",
        "--dir",
        str(saved_model),
        "--tag_set",
        "serve",
        "--signature_def",
        signature,
        *feeds,
        "--outdir",
        str(outdir),
    ]
    return subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300
    )


def seqgraph_main(*args):
    """``seqgraph ARGS`` in this process: ``(exit code, stdout, stderr)``."""
    import contextlib
    import io

    from seqgraph.cli import main

    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main([str(a) for a in args])
        code = 0
    except SystemExit as stop:
        code = stop.code
    return code, out.getvalue(), err.getvalue()
