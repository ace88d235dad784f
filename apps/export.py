"""The one export pipeline: Keras reference -> staging -> SavedModel -> reload and compare ->
TFLite float and int8 -> verify -> publish. An app describes its export in an ``ExportPlan``
(its model, signatures, held-out inputs, Keras' outputs on them and its metric); ``export``
does the rest, and nothing is moved into place before every check has passed.

Layout (TF Serving's): ``<base>/<version>/`` holds the SavedModel (its warmup requests in
``assets.extra/``) and, beside it, what was exported with it: ``<app>.tflite``,
``<app>_int8.tflite`` (with the files an app on a device needs: ``labels.txt`` or
``alphabet.txt``), ``export.json`` (the checks' figures) and an app's other files (TF Serving
reads only the SavedModel). A version is staged in a folder of its own and published by one
rename, so a version folder is always whole, and concurrent exports take different versions.
``models.config`` one folder up lists every app (``apps.tf_serving``).
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

from seqgraph.apps import tf_serving
from seqgraph.apps.common import native_messages_hidden, write_json

LITE_SIGNATURE = "serving_default"  # the signature key in the .tflite files
WARMUP_REQUESTS = 8  # held-out requests per version replayed by TF Serving when it loads it


class ExportError(RuntimeError):
    """An export failed a check; nothing was published."""


@dataclasses.dataclass
class ExportPlan:
    """What an app gives the export pipeline.

    Args:
        app: the app's name (``graph``): the TFLite files are ``<app>.tflite``, ``<app>_int8.tflite``.
        model: the Keras model, or a ``tf.Module``, that the signatures call (its variables are saved).
        signatures: TF Serving signatures, ``{name: (function, [tf.TensorSpec, ...])}``; one of them
            is ``serving_default``. They are the only signatures of the served SavedModel.
        lite: ``(function, input_signature)`` converted to TFLite (builtin ops only) from a
            SavedModel of its own, as the .tflite's signature ``serving_default``.
        examples: held-out inputs, a list of feed dicts for ``serving_default``; the first
            ``WARMUP_REQUESTS`` are also the version's warmup requests.
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
        lite_files: ``{file name: text}`` that a device app needs with the TFLite files
            (``labels.txt``: the class names, line i for output i), written beside them.
        lite_metadata: facts for a device app (label names, alphabet), embedded as JSON in both
            .tflite files (the metadata entry ``seqgraph``, with the inputs' and outputs' names,
            dtypes and shapes).
        warmup: more warmup requests, ``[(signature name, feed), ...]`` (other signatures).
        batching: whether TF Serving may batch requests of this model (each input's first
            dimension is the batch): writes ``batching_params.pbtxt`` into the version.
        pad_batches: pad inputs of different lengths when batching (``lengths`` says which
            samples are real).
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
    lite_files: dict = dataclasses.field(default_factory=dict)
    lite_metadata: dict = dataclasses.field(default_factory=dict)
    warmup: list = dataclasses.field(default_factory=list)
    batching: bool = False
    pad_batches: bool = False


def export(plan, base, label="stable", serving_base=None):
    """Run ``plan``'s export into a new version of ``base`` (``saved_models/<app>/<version>/``)
    and give it ``label`` in ``models.config`` one folder up (``serving_base``: the folder that
    holds the apps inside the server, ``/models`` unless models.config says otherwise). Returns
    the report that is also written to ``<version>/export.json``. Raises ExportError when a check
    fails; nothing is published then, and the staging folder is removed."""
    import tensorflow as tf

    base = Path(base)
    tf_serving.require_label(label, "--label")  # before any work: a bad label publishes nothing
    base.mkdir(parents=True, exist_ok=True)
    tmp = staging(base)
    try:
        reference = [plan.reference(feed) for feed in plan.examples]
        report = {"examples": plan.described, "int8": plan.int8, "keras": plan.score(reference)}
        write_saved_model(plan.model, tmp, plan.signatures)
        warmup = [("serving_default", feed) for feed in plan.examples[:WARMUP_REQUESTS]] + plan.warmup
        tf_serving.write_warmup(tmp, plan.app, warmup)
        if plan.batching:
            tf_serving.write_batching_params(tmp, plan.pad_batches)

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

        lite_saved_model = tmp / ".lite"  # the TFLite signature's own SavedModel: never served
        write_saved_model(plan.model, lite_saved_model, {LITE_SIGNATURE: plan.lite})
        metadata = {"app": plan.app, **plan.lite_metadata}
        for kind, content, lite_model in lite_models(
            lite_saved_model, plan.int8, plan.representative, plan.float_ops, metadata=metadata
        ):
            outputs = [lite_model(feed) for feed in plan.examples]
            report[f"tflite_{kind}"] = {
                **plan.score(outputs),
                "max_abs_error": _max_error(outputs, reference, plan.compare),
                "bytes": len(content),
            }
            (tmp / (f"{plan.app}.tflite" if kind == "float" else f"{plan.app}_{kind}.tflite")).write_bytes(content)
        shutil.rmtree(lite_saved_model)
        for name, text in plan.lite_files.items():
            (tmp / name).write_text(text, encoding="utf-8")
        for name, writer in plan.files.items():
            writer(tmp / name)
        version = publish(tmp, base, report)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    config = tf_serving.update_models_config(base.parent, base.name, label, int(version.name), serving_base)
    _print_summary(report, version, plan)
    print(f"{config}: {base.name} {label} -> version {version.name}")
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


def lite_models(saved_model, int8, representative=None, float_ops=None, signature=LITE_SIGNATURE, metadata=None):
    """``(kind, content, LiteModel)`` for the float and the int8 conversion of ``signature``;
    ``int8`` is "dynamic" (int8 weights, activations quantised per call) or "static" (calibrated
    on ``representative``, ``float_ops`` kept in float). ``metadata`` (a dict) is embedded in
    each (``with_metadata``). Stops the export on a Flex op."""
    for kind in ("float", "int8"):
        if kind == "float":
            content = convert_tflite(saved_model, signature)
        elif int8 == "dynamic":
            content = convert_tflite(saved_model, signature, dynamic_range=True)
        else:
            content = convert_tflite(saved_model, signature, representative, float_ops)
        if metadata is not None:
            content = with_metadata(
                content, signature, {**metadata, "quantization": "none" if kind == "float" else int8}
            )
        lite_model = LiteModel(content, signature)
        lite_model.require_builtins(kind)
        yield kind, content, lite_model


def with_metadata(content, signature, facts):
    """``content`` (a .tflite) with the metadata entry ``seqgraph``: ``facts`` and the signature's
    inputs and outputs (name, dtype, shape with -1 where the size is free), as UTF-8 JSON.
    (The TFLite Support library's metadata format needs a protobuf older than TensorFlow's; this
    entry is read with any flatbuffers reader: see ``read_metadata``.)"""
    import json

    from ai_edge_litert.interpreter import Interpreter
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    runner = Interpreter(model_content=content).get_signature_runner(signature)

    def tensors(details):
        return [
            {"name": name, "dtype": _dtype_name(d["dtype"]), "shape": [int(n) for n in d["shape_signature"]]}
            for name, d in sorted(details.items())
        ]

    facts = {
        **facts,
        "signature": signature,
        "inputs": tensors(runner.get_input_details()),
        "outputs": tensors(runner.get_output_details()),
    }
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(facts, ensure_ascii=False).encode(), np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = "seqgraph", len(model.buffers) - 1
    model.metadata = [*(model.metadata or []), entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _dtype_name(dtype):
    kind = np.dtype(dtype)
    return "string" if kind.kind in "OSU" else kind.name


def read_metadata(content):
    """The ``seqgraph`` metadata of a .tflite's bytes (see ``with_metadata``), or None."""
    import json

    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(content))
    for entry in model.metadata or []:
        if entry.name in (b"seqgraph", "seqgraph"):
            return json.loads(bytes(model.buffers[entry.buffer].data).decode())
    return None


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

    def __init__(self, content, signature=LITE_SIGNATURE):
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
