"""A client of TF Serving for ``seqgraph <app> query``: the model's signatures (metadata) and
Predict, by REST (``/v1/models/<model>[/labels/<label>]:predict``, columnar ``"inputs"``) or by
gRPC (``PredictionService`` of ``tensorflow-serving-api``). A server's error, a refused
connection or a timeout becomes a ``ServerError`` of one line."""

import json
import urllib.error
import urllib.request

import numpy as np


class ServerError(RuntimeError):
    """The server answered with an error, or could not be reached; the message is one line."""


def first_line(text):
    """TF errors carry the failing node on later lines; the first names what went wrong."""
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else "(no message)"


class Server:
    """One model on a TF Serving server.

    Args:
        address: ``HOST:PORT``, the REST port (8501 in TF Serving's image) or, with ``grpc``, the
            gRPC port (8500).
        model: the model's name in models.config (the app's name).
        label: a version label (``stable``, ``canary``), or None for the newest loaded version.
        grpc: use gRPC instead of REST.
        timeout: seconds to wait for an answer.

    Example:

    >>> server = Server("localhost:8501", "image")  # doctest: +SKIP
    >>> server.predict({"images": pixels})["label_name"]  # doctest: +SKIP
    """

    def __init__(self, address, model, label=None, grpc=False, timeout=30.0):
        self.address, self.model, self.label, self.grpc, self.timeout = address, model, label, grpc, timeout
        path = f"/v1/models/{model}" + (f"/labels/{label}" if label else "")
        self.url = f"http://{address}{path}"
        self._stub = None

    def __repr__(self):
        return f"{self.address} ({'gRPC' if self.grpc else 'REST ' + self.url})"

    def signatures(self):
        """``{signature: {"inputs": {name: (dtype, shape)}, "outputs": {...}}}`` of the model
        (its metadata), with -1 where a size is free."""
        from tensorflow_serving.apis import get_model_metadata_pb2

        signature_map = get_model_metadata_pb2.SignatureDefMap()
        if self.grpc:
            request = get_model_metadata_pb2.GetModelMetadataRequest(
                model_spec=self._spec(), metadata_field=["signature_def"]
            )
            self._call("GetModelMetadata", request).metadata["signature_def"].Unpack(signature_map)
        else:
            from google.protobuf import json_format

            answer = self._http(self.url + "/metadata")
            json_format.ParseDict(answer["metadata"]["signature_def"], signature_map, ignore_unknown_fields=True)
        return {name: _describe(sig) for name, sig in signature_map.signature_def.items()}

    def predict(self, feeds, signature="serving_default"):
        """The outputs (``{name: array}``) of ``signature`` on ``feeds`` (``{name: array}``)."""
        if self.grpc:
            import tensorflow as tf
            from tensorflow_serving.apis import predict_pb2

            request = predict_pb2.PredictRequest(model_spec=self._spec(signature))
            for name, value in feeds.items():
                request.inputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
            response = self._call("Predict", request)
            return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}
        body = {"signature_name": signature, "inputs": {name: _to_json(v) for name, v in feeds.items()}}
        outputs = self._http(self.url + ":predict", body)["outputs"]
        if not isinstance(outputs, dict):  # a signature with one output: TF Serving leaves out its name
            raise ServerError(f"{self}: the answer holds one unnamed output; seqgraph's signatures name theirs")
        return {name: np.asarray(value) for name, value in outputs.items()}

    def _spec(self, signature=""):
        from tensorflow_serving.apis import model_pb2

        spec = model_pb2.ModelSpec(name=self.model, signature_name=signature)
        if self.label:
            spec.version_label = self.label
        return spec

    def _call(self, method, request):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        if self._stub is None:
            channel = grpc.insecure_channel(self.address, options=[("grpc.max_receive_message_length", 2**31 - 1)])
            self._stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
        try:
            return getattr(self._stub, method)(request, timeout=self.timeout)
        except grpc.RpcError as e:
            code = e.code()
            if code == grpc.StatusCode.UNAVAILABLE:
                raise ServerError(
                    f"could not reach a gRPC server at {self.address}: {first_line(e.details())}"
                ) from None
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise ServerError(f"{self.address}: no answer within {self.timeout:g} s (gRPC {method})") from None
            raise ServerError(f"{self.address}: gRPC {code.name}: {first_line(e.details())}") from None

    def _http(self, url, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            text = e.read().decode(errors="replace")
            try:
                message = json.loads(text).get("error", text)
            except ValueError:
                message = text or e.reason
            raise ServerError(f"{url}: HTTP {e.code}: {first_line(message)}") from None
        except urllib.error.URLError as e:
            raise ServerError(f"could not reach a REST server at {url}: {e.reason}") from None
        except TimeoutError:
            raise ServerError(f"{url}: no answer within {self.timeout:g} s") from None
        except ValueError as e:
            raise ServerError(f"{url}: the answer is not JSON ({e})") from None


def _describe(signature):
    import tensorflow as tf

    def tensors(infos):
        return {
            name: (tf.dtypes.as_dtype(info.dtype).as_numpy_dtype, [d.size for d in info.tensor_shape.dim])
            for name, info in infos.items()
        }

    return {"inputs": tensors(signature.inputs), "outputs": tensors(signature.outputs)}


def _to_json(value):
    """A tensor in REST's JSON: nested lists; strings as UTF-8 text."""
    array = np.asarray(value)
    if array.dtype.kind in "OSU":
        return np.vectorize(lambda v: v.decode() if isinstance(v, bytes) else str(v), otypes=[object])(array).tolist()
    return array.tolist()


def text(values):
    """Strings of a string output (gRPC gives bytes, REST text)."""
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()]
