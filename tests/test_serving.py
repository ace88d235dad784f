"""What surrounds the exports in a deployment: models.config (parsed with TF Serving's own protos),
the batching files, the warmup records (read back and run through the exported signatures),
`seqgraph <app> query` over REST and gRPC against a stand-in server (tests/serving_standin.py:
TF Serving's binary is not installable here) for all four apps, and the TFLite label files and
metadata. Four tiny runs are trained and exported into one saved_models/ first."""

import json
import shutil

import numpy as np
import pytest

from tests.helpers import seqgraph_main, tf_only

pytestmark = tf_only  # the apps train and export with the TensorFlow backend

APPS = ("graph", "image", "skipgram", "speech")
WORDS = ["animal1", "vehicle2", "nope"]


def _main(*args):
    """``seqgraph ARGS`` in this process: (exit code, stdout lines, stderr)."""
    code, out, err = seqgraph_main(*args)
    return code, out.splitlines(), err


def _ok(*args):
    code, lines, err = _main(*args)
    assert code == 0, err[-3000:]
    return lines


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Four tiny runs, exported into one saved_models/; example inputs for each app."""
    root = tmp_path_factory.mktemp("serving")
    runs, models = root / "runs", root / "saved_models"
    words = "animal1 animal2 animal3 vehicle1 vehicle2 vehicle3".split()
    rng = np.random.default_rng(0)
    (root / "corpus.txt").write_text("\n".join(" ".join(rng.choice(words[i % 2 * 3 :][:3], 8)) for i in range(300)))
    none = ["--progress", "none"]
    _ok("graph", "train", "--folds", "1", "--epochs", "1", "--hidden", "8", *none, "--out", runs / "graph")
    _ok("image", "train", "--model", "vit", "--epochs", "1", "--dim", "16", "--depth", "1", "--heads", "2",
        "--mlp-dim", "16", "--patch-size", "2", *none, "--out", runs / "image")  # fmt: skip
    _ok("skipgram", "train", "--corpus", root / "corpus.txt", "--format", "lines", "--min-count", "1", "--dim",
        "48", "--epochs", "2", *none, "--out", runs / "skipgram")  # fmt: skip
    _ok("speech", "train", "--synthetic-takes", "6", "--utterances", "24", "--valid-utterances", "8", "--epochs",
        "1", "--dim", "16", "--blocks", "1", "--heads", "2", "--window", "4", "--ffn-dim", "16", "--lstm-units",
        "8", *none, "--out", runs / "speech")  # fmt: skip
    for app in APPS:
        _ok(app, "export", "--run", runs / app, "--out", models / app, *(["--utterances", "8"] * (app == "speech")))
    examples = root / "examples"
    _ok("examples", examples)
    _ok("speech", "say", "--out-dir", examples, "three one", "nine")
    inputs = {
        "graph": [examples / "graphs.json"],
        "image": [examples / name for name in ("digit_2.png", "digit_5.png", "digit_7.png")],
        "skipgram": WORDS,
        "speech": [examples / "three_one.wav", examples / "nine.wav"],
    }
    return root, runs, models, inputs


@pytest.fixture(scope="module")
def server(exported):
    from tests.serving_standin import StandIn

    with StandIn(exported[2]) as standin:
        yield standin


def _batching_parameters():
    """TF Serving's BatchingParameters message (session_bundle_config.proto; the package ships
    no Python module for it), built from its field names and numbers to parse our files."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="seqgraph_test_batching.proto",
        package="seqgraph_test",
        syntax="proto3",
        dependency=["google/protobuf/wrappers.proto"],
    )
    message = proto.message_type.add(name="BatchingParameters")
    wrapped = [("max_batch_size", 1, "Int64"), ("batch_timeout_micros", 2, "Int64"),
               ("max_enqueued_batches", 3, "Int64"), ("num_batch_threads", 4, "Int64"),
               ("thread_pool_name", 5, "String"), ("enable_large_batch_splitting", 8, "Bool"),
               ("max_execution_batch_size", 9, "Int64")]  # fmt: skip
    for name, number, kind in wrapped:
        message.field.add(
            name=name,
            number=number,
            type=F.TYPE_MESSAGE,
            label=F.LABEL_OPTIONAL,
            type_name=f".google.protobuf.{kind}Value",
        )
    message.field.add(name="allowed_batch_sizes", number=6, type=F.TYPE_INT64, label=F.LABEL_REPEATED)
    message.field.add(name="pad_variable_length_inputs", number=7, type=F.TYPE_BOOL, label=F.LABEL_OPTIONAL)
    pool = descriptor_pool.Default()
    try:
        pool.FindFileByName(proto.name)
    except KeyError:
        pool.AddSerializedFile(proto.SerializeToString())
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("seqgraph_test.BatchingParameters"))


def test_models_config_and_batching_files_parse_with_tf_servings_protos(exported):
    from google.protobuf import text_format

    from seqgraph.apps import tf_serving

    models = exported[2]
    config = tf_serving.read_models_config(models)
    entries = {c.name: c for c in config.model_config_list.config}
    assert sorted(entries) == sorted(APPS)
    for app, entry in entries.items():
        assert entry.base_path == f"/models/{app}" and entry.model_platform == "tensorflow"
        assert list(entry.model_version_policy.specific.versions) == [1]
        assert dict(entry.version_labels) == {"stable": 1}
    parameters = _batching_parameters()
    shared = text_format.Parse((models / "batching.config").read_text(), parameters())
    assert shared.num_batch_threads.value >= 1 and shared.max_batch_size.value >= 1
    for app in APPS:
        path = models / app / "1" / "batching_params.pbtxt"
        assert path.exists() == (app in ("image", "speech")), app  # graph, skipgram: inputs without a batch axis
        if path.exists():
            own = text_format.Parse(path.read_text(), parameters())
            assert own.max_batch_size.value == 32 and own.pad_variable_length_inputs == (app == "speech")


def test_labels_policy_and_serving_base(tmp_path):
    from seqgraph.apps import tf_serving

    for version in (1, 2, 3):
        (tmp_path / "graph" / str(version)).mkdir(parents=True)
    (tmp_path / "image" / "1").mkdir(parents=True)

    def entries():
        return {c.name: c for c in tf_serving.read_models_config(tmp_path).model_config_list.config}

    (tmp_path / "models.config").write_text(  # as seqgraph 0.1 wrote it: this machine's paths, no labels
        f'model_config_list {{\n  config {{\n    name: "graph"\n    base_path: "{tmp_path / "graph"}"\n'
        '    model_platform: "tensorflow"\n  }\n}\n'
    )
    tf_serving.update_models_config(tmp_path, "graph", "stable", 2)
    assert entries()["graph"].base_path == "/models/graph"
    graph = entries()["graph"]
    assert dict(graph.version_labels) == {"stable": 2} and list(graph.model_version_policy.specific.versions) == [2]
    assert dict(entries()["image"].version_labels) == {"stable": 1}
    tf_serving.update_models_config(tmp_path, "graph", "canary", 3, serving_base="/srv/models/")
    graph = entries()["graph"]
    assert dict(graph.version_labels) == {"stable": 2, "canary": 3}
    assert list(graph.model_version_policy.specific.versions) == [2, 3]
    assert graph.base_path == "/srv/models/graph" and entries()["image"].base_path == "/srv/models/image"
    code, lines, _ = _main("graph", "label", "stable", "3", "--out", tmp_path / "graph")  # promote the canary
    assert code == 0 and lines[-1].endswith("graph stable -> version 3")
    graph = entries()["graph"]
    assert dict(graph.version_labels) == {"stable": 3, "canary": 3} and graph.base_path == "/srv/models/graph"
    assert list(graph.model_version_policy.specific.versions) == [3]
    shutil.rmtree(tmp_path / "graph" / "3")  # a version gone: its labels go, stable falls back to the newest
    tf_serving.update_models_config(tmp_path)
    assert dict(entries()["graph"].version_labels) == {"stable": 2}
    code, _, err = _main("graph", "label", "stable", "9", "--out", tmp_path / "graph")
    assert code == 2 and "no version 9 (there are [1, 2])" in err
    code, _, err = _main("graph", "label", "new-one", "1", "--out", tmp_path / "graph")
    assert code == 2 and "letters, digits and _ only" in err


def test_export_label_canary_adds_a_version_beside_stable(exported, tmp_path):
    from seqgraph.apps import tf_serving

    _, runs, models, _ = exported
    copy = tmp_path / "saved_models"
    shutil.copytree(models, copy)
    lines = _ok("graph", "export", "--run", runs / "graph", "--out", copy / "graph", "--label", "canary")
    assert lines[-1] == f"{copy / 'models.config'}: graph canary -> version 2"
    graph = {c.name: c for c in tf_serving.read_models_config(copy).model_config_list.config}["graph"]
    assert dict(graph.version_labels) == {"stable": 1, "canary": 2}
    assert list(graph.model_version_policy.specific.versions) == [1, 2]
    code, _, err = _main("graph", "export", "--run", runs / "graph", "--out", copy / "graph", "--label", "a b")
    assert code == 2 and "letters, digits and _ only" in err and not (copy / "graph" / "3").exists()


def test_the_served_savedmodel_has_only_the_signatures_clients_call(exported):
    from tensorflow.core.protobuf import saved_model_pb2

    for app in APPS:
        saved = saved_model_pb2.SavedModel.FromString((exported[2] / app / "1" / "saved_model.pb").read_bytes())
        names = {k for k in saved.meta_graphs[0].signature_def if not k.startswith("__")}
        assert names == ({"serving_default", "nearest"} if app == "skipgram" else {"serving_default"}), app
        assert not (exported[2] / app / "1" / ".lite").exists()


def test_warmup_records_are_held_out_requests_that_run(exported):
    import tensorflow as tf

    from seqgraph.apps import tf_serving

    for app in APPS:
        version = exported[2] / app / "1"
        requests = tf_serving.read_warmup(version)
        signatures = [name for name, _ in requests]
        assert signatures.count("serving_default") >= 1, app
        assert ("nearest" in signatures) == (app == "skipgram")
        loaded = tf.saved_model.load(str(version))
        for name, feed in requests:
            outputs = loaded.signatures[name](**{k: tf.constant(v) for k, v in feed.items()})
            assert all(np.all(np.isfinite(v.numpy())) for v in outputs.values() if v.dtype.is_floating), app


@pytest.mark.parametrize("transport", ["rest", "grpc"])
@pytest.mark.parametrize("app", APPS)
def test_query_prints_what_the_local_command_prints(exported, server, app, transport):
    _, runs, _, inputs = exported
    address = server.grpc if transport == "grpc" else server.rest
    remote = _ok(app, "query", "--server", address, *(["--grpc"] * (transport == "grpc")), *inputs[app])
    local_command = {"graph": "predict", "image": "predict", "skipgram": "neighbors", "speech": "transcribe"}[app]
    local = _ok(app, local_command, "--run", runs / app, *inputs[app])
    assert remote == local and len(remote) == (3 if app == "graph" else len(inputs[app]))
    if app == "skipgram":
        assert remote[-1] == "nope: not in the vocabulary"


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_query_names_the_label_and_shows_server_errors_in_one_line(exported, server, transport):
    from seqgraph.apps.client import Server, ServerError
    from seqgraph.apps.graph.serving import pack_graphs

    grpc = transport == "grpc"
    address = server.grpc if grpc else server.rest
    lines = _ok("image", "query", "--server", address, "--label", "stable", *(["--grpc"] * grpc), *exported[3]["image"])
    assert len(lines) == 3
    code, _, err = _main("graph", "query", "--server", address, "--label", "canary", *(["--grpc"] * grpc), "x.json")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert ("NOT_FOUND" if grpc else "HTTP 404") in err and "canary" in err
    feeds = pack_graphs([{"node_features": [[1, 0, 0, 0]] * 2, "edges": [[0, 1]]}])
    with pytest.raises(ServerError) as error:
        Server(address, "graph", grpc=grpc).predict({**feeds, "senders": np.array([7], np.int32)})
    message = str(error.value)
    assert "\n" not in message and "index past the number of nodes" in message
    assert ("INVALID_ARGUMENT" if grpc else "HTTP 400") in message


def test_a_refused_connection_says_what_was_tried(tmp_path):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = _main("skipgram", "query", "--server", f"127.0.0.1:{port}", "word")
    assert code == 2 and f"could not reach a REST server at http://127.0.0.1:{port}/v1/models/skipgram:predict" in err
    code, _, err = _main("skipgram", "query", "--server", f"127.0.0.1:{port}", "--grpc", "--timeout", "5", "word")
    assert code == 2 and f"could not reach a gRPC server at 127.0.0.1:{port}" in err
    assert len(err.strip().splitlines()) == 1


def test_packed_graphs_get_the_answers_they_get_one_by_one(exported, server):
    from seqgraph.apps.client import Server
    from seqgraph.apps.graph.serving import pack_graphs

    items = json.loads(exported[3]["graph"][0].read_text())["graphs"]
    feeds = pack_graphs(items)
    sizes = [len(g["node_features"]) for g in items]
    assert int(feeds["num_graphs"]) == len(items) and feeds["graph_ids"].tolist() == sum(
        ([i] * n for i, n in enumerate(sizes)), []
    )
    edges = sorted((s + sum(sizes[:i]), r + sum(sizes[:i])) for i, g in enumerate(items) for s, r in g.get("edges", []))
    assert sorted(zip(feeds["senders"].tolist(), feeds["receivers"].tolist())) == edges
    remote = Server(server.rest, "graph")
    together = remote.predict(feeds)["probabilities"]
    alone = np.concatenate([remote.predict(pack_graphs([g]))["probabilities"] for g in items])
    np.testing.assert_allclose(together, alone, atol=1e-6)


def test_rest_rows_and_columns_give_the_same_answer(exported, server):
    """The stand-in itself: TF Serving's two REST request formats."""
    import urllib.request

    from seqgraph.datasets import images

    pixels = [images.read_image(p, channels=1, size=(8, 8)).tolist() for p in exported[3]["image"]]

    def post(body):
        request = urllib.request.Request(
            f"http://{server.rest}/v1/models/image:predict", data=json.dumps(body).encode()
        )
        with urllib.request.urlopen(request) as answer:
            return json.loads(answer.read())

    columns = post({"inputs": {"images": pixels}})["outputs"]
    rows = post({"instances": [{"images": p} for p in pixels]})["predictions"]
    assert [r["label_name"] for r in rows] == columns["label_name"]
    np.testing.assert_allclose([r["probabilities"] for r in rows], columns["probabilities"], atol=1e-6)


def test_tflite_files_ship_with_their_labels_and_metadata(exported):
    from seqgraph.apps import export as ex
    from seqgraph.datasets import speech

    runs, models = exported[1], exported[2]
    for app in APPS:
        version = models / app / "1"
        config = json.loads((runs / app / "config.json").read_text())
        names = config.get("label_names") or config.get("class_names")
        if app in ("graph", "image"):
            assert (version / "labels.txt").read_text().splitlines() == names
        if app == "speech":
            lines = (version / "alphabet.txt").read_text().split("\n")[:-1]
            assert lines == ["<blank>", *speech.ALPHABET] and lines[27] == " "
        for name in (f"{app}.tflite", f"{app}_int8.tflite"):
            content = (version / name).read_bytes()
            metadata = ex.read_metadata(content)
            assert metadata["app"] == app and metadata["signature"] == "serving_default"
            assert metadata["quantization"] == ("none" if "int8" not in name else json.loads(
                (version / "export.json").read_text())["int8"])  # fmt: skip
            if names:
                assert metadata["labels"] == names
            lite = ex.LiteModel(content)  # the file runs with its metadata, under the default signature
            inputs = {t["name"]: t for t in metadata["inputs"]}
            assert set(inputs) == set(lite.input_types)
            if app == "speech":
                assert inputs["waveform"]["shape"] == [1, -1] and inputs["waveform"]["dtype"] == "float32"
                assert metadata["alphabet"][0] == "<blank>" and metadata["sample_rate"] == 8000
            if app == "image":
                assert inputs["images"]["shape"] == [-1, 8, 8, 1] and inputs["images"]["dtype"] == "uint8"
