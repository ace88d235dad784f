"""What TF Serving reads besides the SavedModels: ``models.config`` (the apps, their base paths
inside the server, the versions to load and their labels), the batching parameters, and each
version's warmup requests. Written with the protos of ``tensorflow-serving-api``.

Layout (the export root, ``saved_models/``, mounted at ``/models`` in TF Serving's Docker image)::

    models.config                      every app: base_path /models/<app>, versions, labels
    batching.config                    --batching_parameters_file (the shared batch threads)
    <app>/<version>/                   a SavedModel, and beside it the TFLite files
    <app>/<version>/assets.extra/tf_serving_warmup_requests
    <app>/<version>/batching_params.pbtxt   (apps whose requests can be batched)
"""

import contextlib
import fcntl
import re
from pathlib import Path

import numpy as np

from seqgraph.apps.common import ConfigError, atomic_path

SERVING_BASE = "/models"  # where TF Serving's Docker image expects the models
WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
LABEL = re.compile(r"^[A-Za-z0-9_]+$")  # TF Serving's rule for version labels

# --batching_parameters_file: with --enable_per_model_batching_parameters only the thread pool is
# read from it (each batchable model brings its own batching_params.pbtxt); without it, these
# values batch every model, which the graph and skip-gram apps cannot take (see BATCHING).
BATCHING_CONFIG = """\
# TF Serving's batching: tensorflow_model_server --enable_batching --enable_per_model_batching_parameters
#   --batching_parameters_file=/models/batching.config
# With --enable_per_model_batching_parameters, only num_batch_threads is read from this file: the
# models that can be batched (image, speech) carry their own batching_params.pbtxt in each version.
# Do not use --enable_batching without it: a graph request (one disjoint batch, num_graphs a
# scalar) and skip-gram's `nearest` (k a scalar) cannot be concatenated with other requests.
num_batch_threads { value: 4 }
max_batch_size { value: 32 }
batch_timeout_micros { value: 2000 }
max_enqueued_batches { value: 100 }
"""

# Per model (the version's batching_params.pbtxt): requests queue for at most 2 ms, up to 32
# examples run as one batch; speech's waveforms of different lengths are padded to the longest
# (its `lengths` input keeps the padding out of the result).
BATCHING = {
    "max_batch_size": 32,
    "batch_timeout_micros": 2000,
    "max_enqueued_batches": 100,
}


class ServingConfigError(ConfigError):
    """A label or a version that models.config cannot take."""


def require_label(label, what="label"):
    """ServingConfigError unless ``label`` is a version label TF Serving takes."""
    if not LABEL.match(label):
        raise ServingConfigError(f"{what} {label!r}: TF Serving takes letters, digits and _ only")


def write_batching_params(version_dir, pad_variable_length_inputs=False):
    """``version_dir/batching_params.pbtxt`` (read with ``--enable_per_model_batching_parameters``)."""
    lines = [f"{name} {{ value: {value} }}" for name, value in BATCHING.items()]
    if pad_variable_length_inputs:
        lines.append("pad_variable_length_inputs: true")
    (Path(version_dir) / "batching_params.pbtxt").write_text("\n".join(lines) + "\n")


def write_warmup(version_dir, model_name, requests):
    """``version_dir/assets.extra/tf_serving_warmup_requests``: one ``PredictionLog`` per
    ``(signature_name, {input: array})`` in ``requests``, which TF Serving runs when it loads the
    version (``--enable_model_warmup``, on by default), so that the first client request does not
    pay for the graph's first run."""
    import tensorflow as tf
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path = Path(version_dir) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for signature, feed in requests:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature)
            )
            for name, value in feed.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def read_warmup(version_dir):
    """The warmup requests of a version: ``[(signature_name, {input: array}), ...]``."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    requests = []
    for record in tf.data.TFRecordDataset(str(Path(version_dir) / WARMUP_FILE)):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        feed = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
        requests.append((request.model_spec.signature_name or "serving_default", feed))
    return requests


def read_models_config(root):
    """``root/models.config`` as a ``ModelServerConfig`` (an empty one if there is none)."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    config = model_server_config_pb2.ModelServerConfig()
    path = Path(root) / "models.config"
    if path.exists():
        try:
            text_format.Parse(path.read_text(), config)
        except text_format.ParseError as e:
            raise ServingConfigError(f"{path}: {e}") from None
    return config


def versions(app_dir):
    """The published versions of an app folder, ascending."""
    return sorted(int(p.name) for p in Path(app_dir).iterdir() if p.is_dir() and p.name.isdigit())


def update_models_config(root, app=None, label=None, version=None, serving_base=None):
    """Rewrite ``root/models.config`` from the app folders in ``root``, keeping the base paths and
    labels it had, and give ``label`` to ``version`` of ``app`` (a new export gives ``stable``,
    or ``canary`` with ``export --label canary``).

    Every app gets ``base_path`` ``<serving_base>/<app>`` (default: what the config had, else
    ``/models/<app>``), the label ``stable`` (its newest version unless another was chosen), and
    a ``specific`` version policy that loads exactly the labelled versions. A label that points to
    a version no longer on disk is dropped. Returns the path of models.config.
    """
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    root = Path(root)
    if label is not None:
        require_label(label)
    with _locked(root / ".models.config.lock"):
        old = {c.name: c for c in read_models_config(root).model_config_list.config}
        config = model_server_config_pb2.ModelServerConfig()
        for app_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            on_disk = versions(app_dir)
            if not on_disk:
                continue
            before = old.get(app_dir.name)
            labels = {k: v for k, v in before.version_labels.items() if v in on_disk} if before else {}
            if app_dir.name == app and label is not None:
                if version not in on_disk:
                    raise ServingConfigError(f"{app_dir}: no version {version} (there are {on_disk})")
                labels[label] = version
            labels.setdefault("stable", on_disk[-1])
            entry = config.model_config_list.config.add(name=app_dir.name, model_platform="tensorflow")
            if serving_base is not None:
                entry.base_path = f"{serving_base.rstrip('/')}/{app_dir.name}"
            elif before and before.version_labels:
                entry.base_path = before.base_path
            else:  # new, or written by seqgraph 0.1 (this machine's path, no labels)
                entry.base_path = f"{SERVING_BASE}/{app_dir.name}"
            entry.model_version_policy.specific.versions.extend(sorted(set(labels.values())))
            for key in sorted(labels):
                entry.version_labels[key] = labels[key]
        text = (
            "# TF Serving's --model_config_file, written by `seqgraph <app> export` and `seqgraph <app> label`.\n"
            "# Each app loads the versions its labels point to; base_path is read inside the server.\n"
            + text_format.MessageToString(config)
        )
        with atomic_path(root / "models.config") as tmp:
            tmp.write_text(text)
        with atomic_path(root / "batching.config") as tmp:
            tmp.write_text(BATCHING_CONFIG)
    return root / "models.config"


@contextlib.contextmanager
def _locked(path):
    """Exports running at once rewrite models.config one after the other."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def label(app_dir, name, version):
    """``seqgraph <app> label``: give ``version`` of the app in ``app_dir`` the label ``name``
    (promote a canary to ``stable``, roll ``stable`` back) in ``models.config`` one folder up."""
    app_dir = Path(app_dir)
    if not app_dir.is_dir():
        raise ServingConfigError(f"{app_dir}: no such export folder")
    path = update_models_config(app_dir.parent, app_dir.name, name, version)
    print(f"{path}: {app_dir.name} {name} -> version {version}")
    return path
