"""A stand-in for TF Serving's model server, for tests: TF Serving's binary cannot be installed
on these machines (no PyPI or Debian package ships it).

It reads ``models.config`` as the server does (``ModelServerConfig`` text; each ``base_path``
seen through a mount, as in ``docker run -v $PWD/saved_models:/models``), loads the versions that
each model's ``model_version_policy`` names, replays each version's warmup requests, resolves
``version_labels``, and answers:

- REST, as TF Serving documents it: ``GET /v1/models/<m>[/versions/<v>|/labels/<l>]/metadata``,
  ``POST /v1/models/<m>[/versions/<v>|/labels/<l>]:predict`` with ``"inputs"`` (columnar) or
  ``"instances"`` (rows), answered with ``"outputs"`` or ``"predictions"``; errors as
  ``{"error": message}`` with HTTP 400 (a bad request) or 404 (no such model, version, label);
- gRPC: ``PredictionService.Predict`` and ``GetModelMetadata`` (``tensorflow-serving-api``'s
  stubs), errors as gRPC status codes.

Signatures run through ``tf.saved_model.load``: the same SavedModel loader, not the same server.

Run it by hand: ``python -m tests.serving_standin saved_models --rest-port 8501 --grpc-port 8500``.
"""

import argparse
import base64
import json
import re
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np


class RequestError(Exception):
    """An error TF Serving would answer with: ``status`` is HTTP's (400 or 404)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Models:
    """The models of a models.config, loaded. ``mount``: ``(inside, outside)``, the folder
    ``base_path`` names and where it is on this machine."""

    def __init__(self, config_path, mount=("/models", None)):
        import tensorflow as tf
        from google.protobuf import text_format
        from tensorflow_serving.config import model_server_config_pb2

        from seqgraph.apps import tf_serving

        config_path = Path(config_path)
        inside, outside = mount
        outside = Path(outside or config_path.parent)
        config = text_format.Parse(config_path.read_text(), model_server_config_pb2.ModelServerConfig())
        self.versions, self.labels, self.warmed_up, self.paths = {}, {}, {}, {}
        for entry in config.model_config_list.config:
            base = entry.base_path
            if base.startswith(inside.rstrip("/") + "/"):
                base = str(outside / base[len(inside.rstrip("/")) + 1 :])
            base = Path(base)
            wanted = list(entry.model_version_policy.specific.versions) or tf_serving.versions(base)[-1:]
            loaded = {}
            for version in wanted:
                model = tf.saved_model.load(str(base / str(version)))
                warmup = tf_serving.read_warmup(base / str(version))
                for signature, feed in warmup:  # as TF Serving does before it serves the version
                    model.signatures[signature](**{k: tf.constant(v) for k, v in feed.items()})
                self.warmed_up[(entry.name, version)] = len(warmup)
                loaded[version] = model
                self.paths[(entry.name, version)] = base / str(version)
            self.versions[entry.name] = loaded
            self.labels[entry.name] = dict(entry.version_labels)

    def find(self, name, version=None, label=None):
        if name not in self.versions:
            raise RequestError(404, f"Servable not found for request: Latest({name})")
        if label:
            if label not in self.labels[name]:
                raise RequestError(404, f"Unrecognized servable version label: {label}")
            version = self.labels[name][label]
        if version is None:
            version = max(self.versions[name])
        if int(version) not in self.versions[name]:
            raise RequestError(404, f"Servable not found for request: Specific({name}, {version})")
        return int(version), self.versions[name][int(version)]

    def predict(self, name, version, label, signature, feeds):
        """``{output: array}`` of a signature on ``{input: array}``."""
        import tensorflow as tf

        version, model = self.find(name, version, label)
        signature = signature or "serving_default"
        if signature not in model.signatures:
            raise RequestError(400, f'Serving signature name: "{signature}" not found in signature def')
        function = model.signatures[signature]
        specs = function.structured_input_signature[1]
        missing = sorted(set(specs) - set(feeds))
        extra = sorted(set(feeds) - set(specs))
        if missing or extra:
            raise RequestError(400, f"input keys do not match the signature: missing {missing}, unexpected {extra}")
        try:
            args = {k: tf.constant(np.asarray(v).astype(specs[k].dtype.as_numpy_dtype)) for k, v in feeds.items()}
            return {k: v.numpy() for k, v in function(**args).items()}
        except (ValueError, TypeError) as e:
            raise RequestError(400, str(e)) from None
        except tf.errors.InvalidArgumentError as e:
            raise RequestError(400, op_message(e.message)) from None

    def signature_map(self, name, version, label):
        """The version's ``SignatureDefMap`` (what GetModelMetadata returns)."""
        from tensorflow.core.protobuf import saved_model_pb2
        from tensorflow_serving.apis import get_model_metadata_pb2

        version, model = self.find(name, version, label)
        path = self.paths[(name, version)]
        saved = saved_model_pb2.SavedModel.FromString((path / "saved_model.pb").read_bytes())
        result = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in saved.meta_graphs[0].signature_def.items():
            if not key.startswith("__"):
                result.signature_def[key].CopyFrom(signature)
        return version, result


EAGER_PREAMBLE = re.compile(r"^(Graph execution error:|Detected at node |<stack traces unavailable>|\s*$)")


def op_message(message):
    """The failing op's status message, as TF Serving returns it (eager TensorFlow puts
    "Graph execution error: Detected at node ..." first)."""
    lines = message.splitlines()
    while lines and EAGER_PREAMBLE.match(lines[0]):
        lines.pop(0)
    return "\n".join(lines) or message


def _from_json(value, dtype=None):
    """A REST JSON value to an array: ``{"b64": ...}`` becomes bytes, text becomes UTF-8 bytes."""

    def convert(v):
        if isinstance(v, dict) and "b64" in v:
            return base64.b64decode(v["b64"])
        if isinstance(v, str):
            return v.encode()
        if isinstance(v, list):
            return [convert(x) for x in v]
        return v

    converted = convert(value)
    if _has_bytes(converted):
        return np.array(converted, dtype=object)
    return np.asarray(converted)


def _has_bytes(v):
    return isinstance(v, bytes) or (isinstance(v, list) and any(_has_bytes(x) for x in v))


def _to_json(name, array):
    """An output array in REST's JSON: text for strings, base64 for outputs named ``*_bytes``."""
    array = np.asarray(array)
    if array.dtype.kind in "OS":
        if name.endswith("_bytes"):
            return np.vectorize(lambda b: {"b64": base64.b64encode(b).decode()}, otypes=[object])(array).tolist()
        return np.vectorize(lambda b: b.decode(), otypes=[object])(array).tolist()
    return array.tolist()


PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>\w+))?(?P<verb>/metadata|:predict)$"
)


def rest_handler(models):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _answer(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, verb):
            match = PATH.match(self.path)
            if not match or match["verb"] != verb:
                raise RequestError(404, f"Malformed request: {self.command} {self.path}")
            return match["name"], match["version"], match["label"]

        def do_GET(self):
            from google.protobuf import json_format

            try:
                name, version, label = self._route("/metadata")
                version, signatures = models.signature_map(name, version, label)
                self._answer(
                    200,
                    {
                        "model_spec": {"name": name, "signature_name": "", "version": str(version)},
                        "metadata": {"signature_def": json_format.MessageToDict(signatures)},
                    },
                )
            except RequestError as e:
                self._answer(e.status, {"error": str(e)})

        def do_POST(self):
            try:
                name, version, label = self._route(":predict")
                try:
                    body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                except ValueError as e:
                    raise RequestError(400, f"JSON Parse error: {e}") from None
                if not isinstance(body, dict) or ("inputs" in body) == ("instances" in body):
                    raise RequestError(400, "Missing 'inputs' or 'instances' key (exactly one is needed)")
                signature = body.get("signature_name")
                if "inputs" in body:
                    inputs = body["inputs"]
                    if not isinstance(inputs, dict):
                        raise RequestError(400, "this stand-in takes named inputs only")
                    feeds = {k: _from_json(v) for k, v in inputs.items()}
                    outputs = models.predict(name, version, label, signature, feeds)
                    self._answer(200, {"outputs": {k: _to_json(k, v) for k, v in outputs.items()}})
                else:
                    rows = body["instances"]
                    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
                        raise RequestError(400, "this stand-in takes instances as a list of objects")
                    feeds = {k: _from_json([r[k] for r in rows]) for k in rows[0]}
                    outputs = models.predict(name, version, label, signature, feeds)
                    columns = {k: _to_json(k, v) for k, v in outputs.items()}
                    self._answer(200, {"predictions": [{k: columns[k][i] for k in columns} for i in range(len(rows))]})
            except RequestError as e:
                self._answer(e.status, {"error": str(e)})

    return Handler


def grpc_servicer(models):
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2, prediction_service_pb2_grpc

    codes = {400: grpc.StatusCode.INVALID_ARGUMENT, 404: grpc.StatusCode.NOT_FOUND}

    class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            spec = request.model_spec
            version = spec.version.value if spec.HasField("version") else None
            try:
                feeds = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
                outputs = models.predict(spec.name, version, spec.version_label, spec.signature_name, feeds)
            except RequestError as e:
                context.abort(codes[e.status], str(e))
            response = predict_pb2.PredictResponse()
            response.model_spec.CopyFrom(spec)
            for k, v in outputs.items():
                response.outputs[k].CopyFrom(tf.make_tensor_proto(v))
            return response

        def GetModelMetadata(self, request, context):
            spec = request.model_spec
            version = spec.version.value if spec.HasField("version") else None
            try:
                if list(request.metadata_field) != ["signature_def"]:
                    raise RequestError(400, "Metadata field signature_def is the only one supported")
                version, signatures = models.signature_map(spec.name, version, spec.version_label)
            except RequestError as e:
                context.abort(codes[e.status], str(e))
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = spec.name
            response.model_spec.version.value = version
            response.metadata["signature_def"].Pack(signatures)
            return response

    return Servicer()


class StandIn:
    """The stand-in server on 127.0.0.1: ``rest_port`` and ``grpc_port`` (0: a free port each)."""

    def __init__(self, root, rest_port=0, grpc_port=0, mount="/models"):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        self.models = Models(Path(root) / "models.config", (mount, root))
        self.http = ThreadingHTTPServer(("127.0.0.1", rest_port), rest_handler(self.models))
        self.rest = f"127.0.0.1:{self.http.server_address[1]}"
        limit = 2**31 - 1  # TF Serving sets the largest message size gRPC allows
        self.grpc_server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=4),
            options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit)],
        )
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            grpc_servicer(self.models), self.grpc_server
        )
        self.grpc = f"127.0.0.1:{self.grpc_server.add_insecure_port(f'127.0.0.1:{grpc_port}')}"

    def __enter__(self):
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.grpc_server.start()
        return self

    def __exit__(self, *exc):
        self.http.shutdown()
        self.http.server_close()
        self.grpc_server.stop(None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="the export root: models.config and the app folders")
    parser.add_argument("--rest-port", type=int, default=8501)
    parser.add_argument("--grpc-port", type=int, default=8500)
    parser.add_argument("--mount", default="/models", help="the folder models.config's base paths start with")
    args = parser.parse_args()
    with StandIn(args.root, args.rest_port, args.grpc_port, args.mount) as server:
        for (name, version), count in sorted(server.models.warmed_up.items()):
            print(f"loaded {name} version {version} ({count} warmup requests replayed)")
        print(f"REST on {server.rest}, gRPC on {server.grpc} (Ctrl-C stops)", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
