"""Shared export steps: versioned SavedModel folders, TFLite conversion, LiteRT runs, the TF
Serving models.config. Each app builds its own serving functions and verifies the results."""

import os
import re
import shutil
import warnings
from pathlib import Path

import numpy as np

from apps.common import atomic_path, write_json


def next_version(base):
    """TF Serving layout: ``base/<n>/`` with n one above the highest existing version."""
    base = Path(base)
    versions = [int(p.name) for p in base.glob("*") if p.is_dir() and p.name.isdigit()]
    return base / str(max(versions, default=0) + 1)


def staging(path):
    """A fresh temporary sibling of ``path`` to write into before renaming it into place."""
    tmp = Path(path).with_name(f".tmp-{Path(path).name}")
    shutil.rmtree(tmp, ignore_errors=True)
    if tmp.exists():
        tmp.unlink()
    return tmp


def publish(tmp, path):
    """Move a verified export into place (atomic rename)."""
    os.replace(tmp, path)
    return Path(path)


def finish_export(tmp, version, app, lite_files, report):
    """Moves the verified SavedModel ``tmp`` to ``version``, then writes ``<app>.tflite`` (float)
    and ``<app>_int8.tflite`` beside it, ``export.json`` (``report`` with the version) and the
    TF Serving models.config one folder up."""
    base = Path(version).parent
    publish(tmp, version)
    for kind, content in lite_files.items():
        with atomic_path(base / (f"{app}.tflite" if kind == "float" else f"{app}_{kind}.tflite")) as tmp_file:
            tmp_file.write_bytes(content)
    report["version"] = int(Path(version).name)
    write_json(base / "export.json", report)
    write_models_config(base.parent)


def write_saved_model(model, path, endpoints):
    """A SavedModel of ``model`` at ``path`` with ``endpoints``: {name: (function, input_signature)}."""
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    for name, (function, signature) in endpoints.items():
        archive.add_endpoint(name, function, input_signature=signature)
    archive.write_out(str(path), verbose=False)


def lite_models(saved_model, int8, representative=None, float_ops=None, signature="tflite"):
    """``(kind, content, LiteModel)`` for the float and the int8 conversion of ``signature``;
    ``int8`` is "dynamic" (int8 weights, activations quantised per call) or "static" (calibrated
    on ``representative``, ``float_ops`` kept in float). Stops the export on a Flex op."""
    for kind in ("float", "int8"):
        if kind == "float":
            content = convert_tflite(saved_model, signature)
        elif int8 == "dynamic":
            content = convert_tflite(saved_model, signature, dynamic_range=True)
        else:
            content = convert_tflite(saved_model, signature, representative, float_ops)
        lite_model = LiteModel(content, signature)
        lite_model.require_builtins(kind)
        yield kind, content, lite_model


def convert_tflite(saved_model, signature, representative=None, float_ops=None, dynamic_range=False):
    """TFLite flatbuffer of one signature, builtin ops only (no Flex: LiteRT cannot run them).

    With ``representative`` (a callable yielding input dicts) weights and activations are
    quantised to int8 where a builtin int8 kernel exists; inputs and outputs stay float.
    ``float_ops``, a regular expression, keeps the ops whose output tensor names match it in
    float (selective quantisation, through the converter's quantisation debugger).
    ``dynamic_range`` stores the weights as int8 with no calibration: ops with int8 kernels (fully
    connected, ...) quantise their inputs at run time, with a scale per call; other weights are
    dequantised when the model runs. For inputs the calibrator cannot feed (strings), and for
    activations that one fixed range per tensor fits badly (sums over a node's neighbours).
    """
    import tensorflow as tf

    def converter():
        c = tf.lite.TFLiteConverter.from_saved_model(str(saved_model), signature_keys=[signature])
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        return c

    if dynamic_range:
        quantised = converter()
        quantised.optimizations = [tf.lite.Optimize.DEFAULT]
        return quantised.convert()
    if representative is None:
        return converter().convert()
    quantised = converter()
    quantised.optimizations = [tf.lite.Optimize.DEFAULT]
    quantised.representative_dataset = representative
    quantised.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    if float_ops is None:
        return quantised.convert()
    from ai_edge_litert.interpreter import Interpreter

    names = [t["name"] for t in Interpreter(model_content=converter().convert()).get_tensor_details()]
    keep = [name for name in names if re.search(float_ops, name)]
    if not keep:
        raise ValueError(f"no tensor of the {signature!r} signature matches {float_ops!r}")
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=keep)
    with warnings.catch_warnings():  # the debugger still runs tf.lite.Interpreter, deprecated
        warnings.filterwarnings("ignore", "\\s*Warning: tf.lite.Interpreter is deprecated")
        debugger = tf.lite.experimental.QuantizationDebugger(converter=quantised, debug_options=options)
    return debugger.get_nondebug_quantized_model()


class LiteModel:
    """A TFLite model in the LiteRT interpreter; its signature runner resizes inputs per call,
    so numbers of nodes, edges or samples can change from call to call."""

    def __init__(self, content, signature):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_content=content)
        self.runner = self.interpreter.get_signature_runner(signature)
        self.input_types = {name: d["dtype"] for name, d in self.runner.get_input_details().items()}

    def __call__(self, feeds):
        """Named outputs for a dict of named inputs."""
        return self.runner(**{name: np.asarray(feeds[name], dtype=dtype)
                              for name, dtype in self.input_types.items()})

    def op_names(self):
        return {op["op_name"] for op in self.interpreter._get_ops_details()}

    def require_builtins(self, what):
        """Stops the export if the model needs Flex ops (LiteRT cannot run them)."""
        flex = sorted(op for op in self.op_names() if op.startswith("Flex"))
        if flex:
            raise SystemExit(f"error: the {what} TFLite model needs Flex ops {flex}")


def write_models_config(root="saved_models"):
    """``root/models.config`` for ``tensorflow_model_server --model_config_file``, one entry per
    app folder that holds a numbered version."""
    root = Path(root)
    entries = []
    for app in sorted(p for p in root.iterdir() if p.is_dir() and any(c.name.isdigit() for c in p.iterdir())):
        entries.append(f'  config {{\n    name: "{app.name}"\n    base_path: "{app.resolve()}"\n'
                       f'    model_platform: "tensorflow"\n  }}')
    text = "model_config_list {\n" + "\n".join(entries) + "\n}\n"
    with atomic_path(root / "models.config") as tmp:
        tmp.write_text(text)
    return root / "models.config"
