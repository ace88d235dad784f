"""The one export pipeline: Keras reference -> staging -> SavedModel -> reload and compare ->
TFLite float and int8 -> verify -> publish. An app describes its export in an ``ExportPlan``
(its model, signatures, held-out inputs, Keras' outputs on them and its metric); ``export``
does the rest, and nothing is moved into place before every check has passed.

Layout (TF Serving's): ``<base>/<version>/`` holds the SavedModel and, beside it, what was
exported with it: ``<app>.tflite``, ``<app>_int8.tflite``, ``export.json`` (the checks'
figures) and an app's other files (TF Serving reads only the SavedModel). A version is staged in
a folder of its own and published by one rename, so a version folder is always whole, and
concurrent exports take different versions. ``models.config`` one folder up lists every app.
"""

import dataclasses
import errno
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from seqgraph.apps.common import atomic_path, native_messages_hidden, write_json


class ExportError(RuntimeError):
    """An export failed a check; nothing was published."""


@dataclasses.dataclass
class ExportPlan:
    """What an app gives the export pipeline.

    Args:
        app: the app's name (``graph``): the TFLite files are ``<app>.tflite``, ``<app>_int8.tflite``.
        model: the Keras model, or a ``tf.Module``, that the signatures call (its variables are saved).
        signatures: TF Serving signatures, ``{name: (function, [tf.TensorSpec, ...])}``; one of them
            is ``serving_default``.
        lite: ``(function, input_signature)`` converted to TFLite (builtin ops only), saved beside
            the others as the signature ``tflite``.
        examples: held-out inputs, a list of feed dicts for ``serving_default``.
        reference: ``feed -> {output name: array}``: what Keras computes on a feed (the outputs
            named as the signatures name them).
        score: ``[outputs, ...] -> {metric: value}``, from the outputs on every example (of any
            signature: the SavedModel's, TFLite's, or Keras' reference).
        compare: the output compared with the reference, as the largest absolute difference.
        described: what the examples are, for the summary (``"60 held-out graphs"``).
        tolerance: largest difference allowed between the SavedModel and Keras.
        int8: ``"dynamic"`` (int8 weights, activations quantised per call) or ``"static"``
            (int8 activations too, calibrated on ``representative``).
        representative: a callable yielding calibration feeds for static int8.
        float_ops: a regular expression of tensor names kept in float in static int8.
        files: ``{file name: writer(path)}`` written into the version beside the TFLite files.
    """

    app: str
    model: object
    signatures: dict
    lite: tuple
    examples: list
    reference: Callable
    score: Callable
    compare: str
    described: str
    tolerance: float = 1e-4
    int8: str = "dynamic"
    representative: Callable = None
    float_ops: str = None
    files: dict = dataclasses.field(default_factory=dict)


def export(plan, base):
    """Run ``plan``'s export into a new version of ``base`` (``saved_models/<app>/<version>/``);
    returns the report that is also written to ``<version>/export.json``. Raises ExportError
    when a check fails; nothing is published then, and the staging folder is removed."""
    import tensorflow as tf

    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    tmp = staging(base)
    try:
        reference = [plan.reference(feed) for feed in plan.examples]
        report = {"examples": plan.described, "int8": plan.int8, "keras": plan.score(reference)}
        write_saved_model(plan.model, tmp, {**plan.signatures, "tflite": plan.lite})

        serve = tf.saved_model.load(str(tmp)).signatures["serving_default"]
        served = [
            {k: v.numpy() for k, v in serve(**{k: tf.constant(v) for k, v in feed.items()}).items()}
            for feed in plan.examples
        ]
        error = _max_error(served, reference, plan.compare)
        report["saved_model"] = {**plan.score(served), "max_abs_error": error}
        if error > plan.tolerance:
            raise ExportError(
                f"the SavedModel's {plan.compare} differ from Keras' by {error:.2e} (more than {plan.tolerance:.0e})"
            )

        for kind, content, lite_model in lite_models(tmp, plan.int8, plan.representative, plan.float_ops):
            outputs = [lite_model(feed) for feed in plan.examples]
            report[f"tflite_{kind}"] = {
                **plan.score(outputs),
                "max_abs_error": _max_error(outputs, reference, plan.compare),
                "bytes": len(content),
            }
            (tmp / (f"{plan.app}.tflite" if kind == "float" else f"{plan.app}_{kind}.tflite")).write_bytes(content)
        for name, writer in plan.files.items():
            writer(tmp / name)
        version = publish(tmp, base, report)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_models_config(base.parent)
    _print_summary(report, version, plan)
    return report


def _max_error(outputs, reference, name):
    return float(
        max(
            np.abs(np.asarray(o[name], np.float64) - np.asarray(r[name], np.float64)).max()
            for o, r in zip(outputs, reference)
        )
    )


def _print_summary(report, version, plan):
    files = ", ".join(
        f"{name} ({report[key]['bytes'] / 1e3:,.0f} kB)"
        for key, name in (("tflite_float", f"{plan.app}.tflite"), ("tflite_int8", f"{plan.app}_int8.tflite"))
    )
    print(f"{version}/: SavedModel (signatures {', '.join(plan.signatures)}), {files}, export.json")
    metrics = [k for k, v in report["keras"].items() if isinstance(v, (int, float))]
    print(f"on {plan.described}: " + "".join(f"{m:>12}" for m in metrics) + f"   max |{plan.compare} - Keras|")
    for key, title in (
        ("keras", "Keras"),
        ("saved_model", "SavedModel"),
        ("tflite_float", "TFLite float"),
        ("tflite_int8", f"TFLite int8 ({plan.int8})"),
    ):
        row = report[key]
        cells = "".join(f"{row[m]:>12.4f}" if row.get(m) is not None else f"{'n/a':>12}" for m in metrics)
        error = f"   {row['max_abs_error']:.1e}" if "max_abs_error" in row else ""
        print(f"  {title:<24}{cells}{error}")


def next_version(base):
    """TF Serving layout: ``base/<n>/`` with n one above the highest existing version."""
    base = Path(base)
    versions = [int(p.name) for p in base.glob("*") if p.is_dir() and p.name.isdigit()]
    return base / str(max(versions, default=0) + 1)


def staging(base):
    """A new folder ``base/.tmp-export-<pid>-XXXX`` of this process to stage a version in;
    those that exports killed before they finished left behind (their process is gone) are
    removed first."""
    import tempfile

    for old in Path(base).glob(".tmp-export-*-*"):
        pid = old.name.split("-")[2]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f".tmp-export-{os.getpid()}-", dir=base))


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def publish(tmp, base, report):
    """Move the staged version ``tmp`` into place as the next version of ``base``, with
    ``report`` as its export.json: one rename, which fails if another export took that version
    number first (then the next is tried). Returns the version folder."""
    while True:
        version = next_version(base)
        report["version"] = int(version.name)
        write_json(tmp / "export.json", report)
        try:
            os.rename(tmp, version)  # a folder is never renamed onto one that holds files
            return version
        except OSError as e:
            if not version.exists():
                raise
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise


def write_saved_model(model, path, endpoints):
    """A SavedModel of ``model`` (a Keras model, or a ``tf.Module`` holding its own variables and
    tables) at ``path`` with ``endpoints``: ``{name: (function, input_signature)}``."""
    import keras
    import tensorflow as tf

    if isinstance(model, keras.layers.Layer):
        archive = keras.export.ExportArchive()
        archive.track(model)
        for name, (function, signature) in endpoints.items():
            archive.add_endpoint(name, function, input_signature=signature)
        archive.write_out(str(path), verbose=False)
    else:
        signatures = {
            name: tf.function(function, input_signature=signature).get_concrete_function()
            for name, (function, signature) in endpoints.items()
        }
        tf.saved_model.save(model, str(path), signatures=signatures)


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
    # The calibrator and the debugger still run tf.lite.Interpreter (deprecated: a warning), and the
    # quantiser prints its settings ("fully_quantize: 0, ...") from C++.
    with warnings.catch_warnings(), native_messages_hidden():
        warnings.filterwarnings("ignore", "\\s*Warning: tf.lite.Interpreter is deprecated")
        return _convert(saved_model, signature, representative, float_ops, dynamic_range)


def _convert(saved_model, signature, representative, float_ops, dynamic_range):
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
        self.called = False

    def __call__(self, feeds):
        """Named outputs for a dict of named inputs."""
        feeds = {name: np.asarray(feeds[name], dtype=dtype) for name, dtype in self.input_types.items()}
        if self.called:
            return self.runner(**feeds)
        self.called = True
        with native_messages_hidden():  # the first call prints "INFO: Created TensorFlow Lite XNNPACK delegate"
            return self.runner(**feeds)

    def op_names(self):
        return {op["op_name"] for op in self.interpreter._get_ops_details()}

    def require_builtins(self, what):
        """Stops the export if the model needs Flex ops (LiteRT cannot run them)."""
        flex = sorted(op for op in self.op_names() if op.startswith("Flex"))
        if flex:
            raise ExportError(f"the {what} TFLite model needs Flex ops {flex}")


def write_models_config(root="saved_models"):
    """``root/models.config`` for ``tensorflow_model_server --model_config_file``, one entry per
    app folder that holds a numbered version."""
    root = Path(root)
    entries = []
    for app in sorted(p for p in root.iterdir() if p.is_dir() and any(c.name.isdigit() for c in p.iterdir())):
        entries.append(
            f'  config {{\n    name: "{app.name}"\n    base_path: "{app.resolve()}"\n'
            f'    model_platform: "tensorflow"\n  }}'
        )
    text = "model_config_list {\n" + "\n".join(entries) + "\n}\n"
    with atomic_path(root / "models.config") as tmp:
        tmp.write_text(text)
    return root / "models.config"
