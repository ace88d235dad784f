"""Messy data, misuse and faults: a clear one-line error naming the input, or a correct answer;
never a confident wrong one, a traceback or a hang. A test per defect found by trying 186 cases
(issue 26), then fuzz tests of every reader and of the serving signatures."""

import contextlib
import errno
import io
import json
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from seqgraph.datasets import DataError, graphs, images, speech, text
from tests.helpers import tf_only
from tests.test_graph_data import TOY, write_tu

pytestmark = tf_only


def _seqgraph(*args, cwd=None, timeout=300):
    """``seqgraph ARGS`` in a subprocess: (returncode, stdout, stderr)."""
    result = subprocess.run(
        [sys.executable, "-m", "seqgraph", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )
    return result.returncode, result.stdout, result.stderr


def _main(*args):
    """``seqgraph ARGS`` in this process: (exit code, stderr)."""
    from seqgraph.cli import main

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            main([str(a) for a in args])
    except SystemExit as stop:
        return stop.code, err.getvalue()
    return 0, err.getvalue()


def _one_line_error(message, *names):
    """A message a person can act on: one line, naming the input."""
    assert "\n" not in message.strip() and "Traceback" not in message, message
    for name in names:
        assert str(name) in message, (name, message)


# ----------------------------------------------------------------------------- wrong answers (1-5)
UNFINISHED = [
    ("graph", ["evaluate"]),
    ("graph", ["export"]),
    ("graph", ["predict", "graphs.json"]),
    ("skipgram", ["neighbors", "word"]),
    ("skipgram", ["evaluate"]),
    ("skipgram", ["export"]),
    ("image", ["evaluate"]),
    ("image", ["predict", "x.png"]),
    ("image", ["attention-maps"]),
    ("speech", ["evaluate"]),
    ("speech", ["transcribe", "x.wav"]),
    ("speech", ["export"]),
]


@pytest.mark.parametrize("app, command", UNFINISHED, ids=[f"{a} {c[0]}" for a, c in UNFINISHED])
def test_commands_refuse_an_unfinished_run(app, command, tmp_path):
    """Defect 1: what a failed or stopped retrain leaves (a new config beside an old model and
    metrics) is never read as a run."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"app": app, "status": "training", "resumes": 0}))
    (run / "config.json").write_text(json.dumps({"app": app}))
    (run / "metrics.json").write_text("{}")  # the old run's
    (run / "model.keras").write_bytes(b"old")
    code, err = _main(app, command[0], "--run", run, *command[1:])
    assert code == 2 and "holds an unfinished run" in err and f"seqgraph {app} train --config" in err
    _one_line_error(err, run)


def test_a_run_folder_without_a_model_is_named(tmp_path):
    """Defect 10."""
    code, err = _main("graph", "evaluate", "--run", tmp_path)
    assert code == 2 and "not a run folder written by `train`" in err
    (tmp_path / "metrics.json").write_text("{}")
    (tmp_path / "config.json").write_text(json.dumps({"app": "graph"}))
    code, err = _main("graph", "evaluate", "--run", tmp_path)
    assert code == 2 and "model.keras not found" in err
    _one_line_error(err, tmp_path)


@pytest.mark.parametrize(
    "part, text, message",
    [
        ("node_attributes", "0.5, 1\n1.5, nan\n2.5, 3\n3.5, 4\n4.5, 5\n5.5, 6\n", "line 2: expected finite numbers"),
        ("node_attributes", "0.5, 1\n1.5, inf\n2.5, 3\n3.5, 4\n4.5, 5\n5.5, 6\n", "line 2: expected finite numbers"),
        ("node_attributes", "0.5, 1\n1.5, 1e39\n2.5, 3\n3.5, 4\n4.5, 5\n5.5, 6\n", "line 2: expected finite numbers"),
        ("A", "1, 2\n2, 1e20\n", "line 2: expected integers"),
        ("A", "1, 2\n2, 1e300\n", "line 2: expected integers"),
        ("graph_indicator", "1\n1\n1\n2\n2\n1e20\n", "line 6: expected integers"),
        ("node_labels", "", "0 lines for 6 nodes"),
        ("graph_labels", "1\n1\n1\n", "one class"),
    ],
)
def test_tu_values_that_cannot_be_used_are_named(tmp_path, part, text, message):
    """Defects 3, 4 and 8: NaN, Inf and huge values, an empty file, one class."""
    folder = write_tu(tmp_path / "TOY", **{part: text})
    with pytest.raises(DataError) as error:
        dataset = graphs.read_tu(folder, "TOY")
        graphs.stratified_folds(dataset.labels, 2)
    assert message in str(error.value)
    _one_line_error(str(error.value), f"TOY_{part}.txt" if part != "graph_labels" else "")


def _zip(path, files):
    with zipfile.ZipFile(path, "w") as z:
        for name, content in files.items():
            z.writestr(name, content)
    return path


def test_tu_zips_that_cannot_be_read_are_named(tmp_path):
    """Defect 8: not a zip, a truncated zip, two files of one name."""
    (tmp_path / "TOY.zip").write_text("not a zip")
    with pytest.raises(DataError, match="not a readable zip file"):
        graphs.read_tu(tmp_path / "TOY.zip")
    whole = _zip(tmp_path / "whole.zip", {f"TOY/TOY_{k}.txt": v for k, v in TOY.items()}).read_bytes()
    (tmp_path / "TOY.zip").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="TOY.zip: not a readable zip file"):
        graphs.read_tu(tmp_path / "TOY.zip")
    files = {f"TOY/TOY_{k}.txt": v for k, v in TOY.items()} | {"old/TOY_A.txt": "1, 2\n"}
    _zip(tmp_path / "TOY.zip", files)
    with pytest.raises(DataError, match="holds TOY/TOY_A.txt and old/TOY_A.txt; which one is meant"):
        graphs.read_tu(tmp_path / "TOY.zip")


@pytest.mark.parametrize(
    "graph, message",
    [
        ({"node_features": [[1, 0, 0, 0]], "edges": [[0, 0.5]]}, "edges must hold integer node ids, got [0.0, 0.5]"),
        ({"node_features": [[1, 0, 0, 0], [0, 1, 0, 0]], "edges": [[1.7, 0]]}, "integer node ids"),
        ({"node_features": [[1, 0, float("nan"), 0]], "edges": []}, "not a finite float32"),
        ({"node_features": [[1, 0, 1e39, 0]], "edges": []}, "not a finite float32"),
        ({"node_features": [[1, 0, 0, 0]], "edges": [[0, 1e300]]}, "outside 0..0"),
        ({"node_features": [], "edges": []}, "has no nodes"),
    ],
)
def test_predict_json_that_cannot_be_classified_is_named(tmp_path, graph, message):
    """Defects 3 and 5: NaN features and float edge ids (1.7 was read as 1)."""
    path = tmp_path / "graphs.json"
    path.write_text(json.dumps({"graphs": [graph]}))
    with pytest.raises(DataError) as error:
        graphs.read_json_graphs(path, 4)
    assert message in str(error.value)
    _one_line_error(str(error.value), path, "graph 0")


def test_images_of_one_class_are_refused(tmp_path):
    """Defect 4."""
    _png(tmp_path / "only" / "a.png", np.zeros((4, 4), np.uint8))
    with pytest.raises(DataError, match="two classes or more; found only only/"):
        images.read_folder(tmp_path)
    with pytest.raises(DataError, match="one class"):
        images.split(np.zeros(10, np.int32))
    with pytest.raises(DataError, match="every class needs 2 images"):
        images.split(np.array([0, 0, 0, 1]))


def _png(path, array):
    import tensorflow as tf

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(array[..., None] if array.ndim == 2 else array).numpy())
    return path


def _wav(path, samples, rate=8000, subtype="FLOAT"):
    import soundfile

    soundfile.write(str(path), samples, rate, subtype=subtype)
    return path


def test_audio_with_nan_or_inf_samples_is_named(tmp_path):
    """Defect 3: a float WAV with NaN samples transcribed as "" and trained a NaN model."""
    samples = np.sin(np.arange(800) / 10).astype(np.float32)
    for bad in (np.nan, np.inf):
        samples[300] = bad
        path = _wav(tmp_path / "bad.wav", samples)
        with pytest.raises(DataError, match="sample 300 is not a finite number"):
            speech.read_audio(path)


def test_serving_rejects_nan_and_unbounded_graph_counts():
    """Defects 3 and 7: a NaN feature, num_graphs = 10**6 for 3 nodes, a graph with no node."""
    import tensorflow as tf

    serve = _graph_serving()
    request = dict(
        node_features=tf.ones((3, 4)),
        senders=tf.constant([0, 1]),
        receivers=tf.constant([1, 2]),
        graph_ids=tf.constant([0, 0, 1]),
        num_graphs=tf.constant(2),
    )
    assert serve(**request)["label"].shape == (2,)
    for change, message in (
        ({"num_graphs": tf.constant(10**6)}, "num_graphs must not exceed the number of nodes"),
        ({"num_graphs": tf.constant(2**31 - 1)}, "num_graphs must not exceed the number of nodes"),
        (
            {"graph_ids": tf.constant([0, 0, 2]), "num_graphs": tf.constant(3)},
            "every graph 0..num_graphs-1 needs a node",
        ),
        ({"node_features": tf.constant([[1.0, 0, 0, 0], [0, np.nan, 0, 0], [0, 0, 1, 0]])}, "must be finite"),
    ):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            serve(**{**request, **change})


_SERVING = {}


def _graph_serving():
    """The graph app's serving_default on a fresh small GIN (4 features, 2 classes)."""
    if "graph" not in _SERVING:
        import tensorflow as tf

        from seqgraph.apps.graph.model import build_model
        from seqgraph.apps.graph.serving import serving_functions

        model = build_model("gin", 4, 2, hidden=8, num_layers=2)
        signature, serve, _ = serving_functions(model, ["a", "b"], 4)
        _SERVING["graph"] = tf.function(serve, input_signature=signature)
    return _SERVING["graph"]


# ----------------------------------------------------------------------------- hangs (6)
@pytest.mark.parametrize(
    "content, fmt", [("yes.\n" * 300, "auto"), ("".join(f"word{i % 40}\n" for i in range(400)), "lines")]
)
def test_a_corpus_without_training_pairs_is_refused_at_once(tmp_path, content, fmt):
    """Defect 6: skip-gram waited forever, silently, for a batch."""
    corpus = tmp_path / "one.txt"
    corpus.write_text(content)
    code, out, err = _seqgraph(
        "skipgram",
        "train",
        "--corpus",
        corpus,
        "--format",
        fmt,
        "--epochs",
        "1",
        "--out",
        tmp_path / "run",
        timeout=120,
    )
    assert code == 2 and "no training pairs" in err
    _one_line_error(err.strip().splitlines()[-1], corpus)
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------- tracebacks (8-15)
def test_folds_larger_than_a_class_are_refused(tmp_path):
    """Defect 9: scikit-learn's tracebacks."""
    labels = np.array([0] * 8 + [1] * 3)
    with pytest.raises(DataError, match=r"--folds 10: class 1 has 3 graph\(s\); .* \(use --folds 3 or fewer\)"):
        graphs.stratified_folds(labels, 10)
    with pytest.raises(DataError, match="class 1 has a single graph"):
        graphs.stratified_folds(np.array([0] * 8 + [1]), 1)
    assert len(graphs.stratified_folds(labels, 3)) == 3


BAD_OPTIONS = [
    ("graph", "--batch-size", "0"),
    ("graph", "--batch-size", "-4"),
    ("graph", "--hidden", "0"),
    ("graph", "--layers", "0"),
    ("graph", "--dropout", "1.5"),
    ("graph", "--epochs", "0"),
    ("image", "--batch-size", "0"),
    ("image", "--test-fraction", "1.5"),
    ("speech", "--epochs", "0"),
    ("speech", "--epochs", "-3"),
    ("speech", "--batch-size", "0"),
    ("speech", "--utterances", "0"),
    ("skipgram", "--window", "0"),
    ("skipgram", "--sample", "-1"),
]


@pytest.mark.parametrize("app, option, value", BAD_OPTIONS)
def test_bad_option_values_are_refused_before_anything_is_written(app, option, value, tmp_path):
    """Defect 11."""
    code, err = _main(app, "train", option, value, "--out", tmp_path / "run")
    assert code == 2 and option in err
    _one_line_error(err, option)
    assert not (tmp_path / "run").exists()


def test_fsdd_with_only_held_out_takes_is_named(tmp_path):
    """Defect 12: numpy's "high <= 0"."""
    folder = tmp_path / "recordings"
    folder.mkdir()
    for digit in range(2):
        _wav(folder / f"{digit}_anna_{digit}.wav", np.zeros(800, np.float32), subtype="PCM_16")
    with pytest.raises(DataError, match="0 training and 2 held-out recordings; both are needed"):
        speech.digit_corpus(tmp_path)
    with pytest.raises(DataError, match="--synthetic-takes 3: 0 training"):
        speech.digit_corpus(None, synthetic_takes=3)


def test_a_full_disk_during_export_leaves_nothing_behind(tmp_path, monkeypatch):
    """Defect 13: an OSError traceback, and a staging folder keeping the disk full."""
    from seqgraph.apps import export as ex

    run = _tiny_graph_run(tmp_path)

    def full(model, path, endpoints):
        raise OSError(errno.ENOSPC, "No space left on device", str(Path(path) / "variables"))

    monkeypatch.setattr(ex, "write_saved_model", full)
    code, err = _main("graph", "export", "--run", run, "--out", tmp_path / "models" / "graph")
    assert code == 2 and "No space left on device" in err
    _one_line_error(err, "variables")
    assert list((tmp_path / "models" / "graph").iterdir()) == []


def test_a_full_disk_during_training_keeps_the_last_whole_state(tmp_path, monkeypatch):
    from seqgraph.apps.training import TrainingState

    save = TrainingState.save

    def save_then_fill(self):
        if self.epoch == 2:
            np.savez = _raise_enospc  # the disk fills while the second state is written
        try:
            save(self)
        finally:
            np.savez = _SAVEZ

    monkeypatch.setattr(TrainingState, "save", save_then_fill)
    run = tmp_path / "run"
    code, err = _main("graph", "train", "--folds", "1", "--epochs", "3", "--progress", "none", "--out", run)
    assert code == 2 and "No space left on device" in err
    assert [p.name for p in (run / "state" / "fold-1").iterdir()] == ["epoch-00001"]


_SAVEZ = np.savez


def _raise_enospc(path, *args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


def _tiny_graph_run(tmp_path):
    run = tmp_path / "graph-run"
    code, err = _main(
        "graph", "train", "--folds", "1", "--epochs", "1", "--hidden", "8", "--progress", "none", "--out", run
    )
    assert code == 0, err
    return run


def test_a_zip_of_plain_text_is_read_as_text(tmp_path):
    """Defect 14: "no words found (format 'brown')"."""
    _zip(tmp_path / "notes.zip", {"a.txt": "The cat sat. The dog ran.", "b/c.txt": "Birds fly."})
    assert text.read_corpus(tmp_path / "notes.zip") == [["the", "cat", "sat"], ["the", "dog", "ran"], ["birds", "fly"]]
    _zip(tmp_path / "marks.zip", {"a.txt": "... !!! ???", "b.txt": "-- --"})
    with pytest.raises(DataError, match=r"no words found \(format 'text': 2 file\(s\) read, the first .*a.txt\)"):
        text.read_corpus(tmp_path / "marks.zip")
    with pytest.raises(DataError, match="not Brown's distribution\\? give --format text"):
        text.read_corpus(tmp_path / "notes.zip", "brown")


def test_a_corpus_in_another_encoding_is_read_with_encoding(tmp_path):
    """Defect 15: NLTK's ABC corpus is Latin-1."""
    corpus = tmp_path / "abc.txt"
    corpus.write_bytes("Café au lait. Crème brûlée.".encode("latin-1"))
    with pytest.raises(DataError, match="not utf-8 at byte offset 3 .*--encoding .*--encoding-errors replace"):
        text.read_corpus(corpus)
    assert text.read_corpus(corpus, encoding="latin-1")[0] == ["café", "au", "lait"]
    assert text.read_corpus(corpus, errors="replace")[0] == ["caf", "au", "lait"]
    with pytest.raises(DataError, match="--encoding klingon: no such text encoding"):
        text.read_corpus(corpus, encoding="klingon")
    from seqgraph.cli import build_parser

    args = build_parser().parse_args(["skipgram", "train", "--encoding", "latin-1", "--encoding-errors", "ignore"])
    assert (args.encoding, args.encoding_errors) == ("latin-1", "ignore")


# ----------------------------------------------------------------------------- export (16, 17)
def test_two_exports_at_once_take_two_whole_versions(tmp_path):
    """Defects 16 and 17: one staging folder shared by two exports; TFLite files and report
    beside the versions, not in them."""
    run = _tiny_graph_run(tmp_path)
    out = tmp_path / "models" / "graph"
    exports = [
        subprocess.Popen(
            [sys.executable, "-m", "seqgraph", "graph", "export", "--run", str(run), "--out", str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in exports:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0, err[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["1", "2"]  # no staging folder left
    for version in ("1", "2"):
        files = {p.name for p in (out / version).iterdir()}
        assert {"saved_model.pb", "variables", "graph.tflite", "graph_int8.tflite", "export.json"} <= files
        assert json.loads((out / version / "export.json").read_text())["version"] == int(version)


def test_a_version_taken_while_staging_moves_the_export_to_the_next(tmp_path):
    from seqgraph.apps.export import publish, staging

    stale = tmp_path / f".tmp-export-{2**22 + 7}-abcd"  # left by a killed export (no such process)
    stale.mkdir()
    tmp = staging(tmp_path)
    assert not stale.exists()
    (tmp / "saved_model.pb").write_bytes(b"x")
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "saved_model.pb").write_bytes(b"other")
    version = publish(tmp, tmp_path, {})
    assert version.name == "2" and json.loads((version / "export.json").read_text())["version"] == 2
    assert (tmp_path / "1" / "saved_model.pb").read_bytes() == b"other"


# ----------------------------------------------------------------------------- fuzz
@contextlib.contextmanager
def _time_limit(seconds):
    """Fail instead of hanging."""

    def stop(signum, frame):
        raise TimeoutError(f"no answer in {seconds} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _mutate(data, rng):
    """One random fault: truncation, flipped bytes, a value replaced by NaN/Inf/a huge number,
    an empty file, a line doubled or dropped, text that is not UTF-8."""
    kind = rng.integers(8)
    if kind == 0 or not data:
        return data[: rng.integers(len(data) + 1)] if data else b""
    if kind == 1:
        data = bytearray(data)
        for _ in range(rng.integers(1, 4)):
            data[rng.integers(len(data))] = rng.integers(256)
        return bytes(data)
    if kind in (2, 3):
        tokens = data.split(b",") if b"," in data and kind == 2 else data.split(b"\n")
        i = rng.integers(len(tokens))
        tokens[i] = rng.choice([b"nan", b"inf", b"-inf", b"1e300", b"1e20", b"-1", b"", b"1.5", b"x", b"9" * 30])
        return (b"," if b"," in data and kind == 2 else b"\n").join(tokens)
    if kind == 4:
        return b""
    if kind == 5:
        lines = data.split(b"\n")
        i = rng.integers(len(lines))
        return b"\n".join(lines[:i] + lines[i : i + 1] * 2 + lines[i + 1 :])
    if kind == 6:
        lines = data.split(b"\n")
        i = rng.integers(len(lines))
        return b"\n".join(lines[:i] + lines[i + 1 :])
    return data + b"\xff\xfe\x80"


def _check_answer_or_error(read, names, check=lambda result: None):
    """``read()`` returns a correct result (``check`` passes) or raises a DataError whose
    message is one line naming one of ``names``; anything else fails."""
    try:
        with _time_limit(20):
            result = read()
    except DataError as e:
        message = str(e)
        assert "\n" not in message, message
        assert any(str(n) in message for n in names), (names, message)
        return "error"
    check(result)
    return "answer"


def _check_graphs(d):
    assert np.isfinite(d.node_features).all() and len(d.labels) == d.num_graphs
    assert d.senders.min(initial=0) >= 0 and d.senders.max(initial=0) < len(d.node_features)
    assert d.receivers.min(initial=0) >= 0 and d.receivers.max(initial=0) < len(d.node_features)


def test_fuzz_tu_folders_and_zips(tmp_path):
    rng = np.random.default_rng(26)
    outcomes = []
    for case in range(300):
        files = {part: content.encode() for part, content in TOY.items()}
        for _ in range(rng.integers(1, 3)):
            part = rng.choice(sorted(files))
            files[part] = _mutate(files[part], rng)
        folder = tmp_path / f"c{case}" / "TOY"
        folder.mkdir(parents=True)
        for part, content in files.items():
            (folder / f"TOY_{part}.txt").write_bytes(content)
        if case % 3 == 0:  # a zip, sometimes itself damaged
            path = _zip(tmp_path / f"c{case}" / "TOY.zip", {f"TOY/TOY_{p}.txt": c for p, c in files.items()})
            if rng.random() < 0.5:
                path.write_bytes(_mutate(path.read_bytes(), rng))
        else:
            path = folder
        outcomes.append(_check_answer_or_error(lambda: graphs.read_tu(path, "TOY"), [path], _check_graphs))
    assert outcomes.count("error") > 100 and outcomes.count("answer") > 10, outcomes.count("error")


def test_fuzz_predict_json(tmp_path):
    rng = np.random.default_rng(27)
    good = {
        "graphs": [
            {"node_features": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], "edges": [[0, 1], [1, 2], [2, 0]]},
            {"node_features": [[0.5, 0, 0, 1]], "edges": []},
        ]
    }
    values = [float("nan"), float("inf"), 1e300, -1, 1.5, 3, "x", None, [], {}, True, 10**20]
    outcomes = []
    for case in range(300):
        data = json.loads(json.dumps(good))
        for _ in range(rng.integers(1, 3)):
            graph = data["graphs"][rng.integers(2)]
            key = rng.choice(["node_features", "edges"])
            rows = graph[key]
            row = rows[rng.integers(len(rows))] if isinstance(rows, list) and rows else None
            if isinstance(row, list) and row and rng.random() < 0.7:
                row[rng.integers(len(row))] = values[rng.integers(len(values))]
            else:
                graph[key] = values[rng.integers(len(values))]
        raw = json.dumps(data).encode()
        if rng.random() < 0.2:
            raw = _mutate(raw, rng)
        path = tmp_path / f"{case}.json"
        path.write_bytes(raw)
        outcomes.append(_check_answer_or_error(lambda: graphs.read_json_graphs(path, 4), [path], _check_graphs))
    assert outcomes.count("error") > 100 and outcomes.count("answer") > 10


def test_fuzz_corpora(tmp_path):
    rng = np.random.default_rng(28)
    good = "The jury said no. It ran home!\n\nA new line of words.\n".encode()
    brown = b"The/at jury/nn said/vbd ./.\n\n\tIt/pps ran/vbd ./.\n"
    outcomes = []
    for case in range(300):
        folder = tmp_path / str(case)
        folder.mkdir()
        kind = case % 3
        if kind == 0:
            path = folder / "corpus.txt"
            path.write_bytes(_mutate(good, rng))
        elif kind == 1:
            path = _zip(folder / "brown.zip", {"brown/ca01": _mutate(brown, rng), "brown/README": b"readme"})
            if rng.random() < 0.5:
                path.write_bytes(_mutate(path.read_bytes(), rng))
        else:
            path = folder / "lines.txt"
            path.write_bytes(_mutate(good.replace(b".", b"\n"), rng))
        fmt = rng.choice(["auto", "text", "lines", "brown", "text8"])

        def check(sentences):
            assert sentences and all(s and all(isinstance(w, str) and w for w in s) for s in sentences)

        outcomes.append(_check_answer_or_error(lambda: text.read_corpus(path, fmt), [path], check))
    assert outcomes.count("error") > 30 and outcomes.count("answer") > 100


def test_fuzz_audio(tmp_path):
    rng = np.random.default_rng(29)
    tone = (0.3 * np.sin(np.arange(1600) / 5)).astype(np.float32)
    outcomes = []
    for case in range(300):
        subtype = ["PCM_16", "FLOAT"][case % 2]
        samples = tone.copy()
        if subtype == "FLOAT" and rng.random() < 0.3:
            samples[rng.integers(len(samples))] = rng.choice([np.nan, np.inf, -np.inf])
        path = _wav(tmp_path / f"{case}.wav", samples, rate=int(rng.choice([8000, 16000, 22050])), subtype=subtype)
        if rng.random() < 0.7:
            path.write_bytes(_mutate(path.read_bytes(), rng))

        def check(audio):
            assert audio.dtype == np.float32 and audio.ndim == 1 and len(audio) and np.isfinite(audio).all()

        outcomes.append(_check_answer_or_error(lambda: speech.read_audio(path), [path], check))
    assert outcomes.count("error") > 50 and outcomes.count("answer") > 50


def test_fuzz_image_folders(tmp_path):
    rng = np.random.default_rng(30)
    outcomes = []
    for case in range(200):
        root = tmp_path / str(case)
        for label in ("a", "b"):
            for i in range(2):
                _png(root / label / f"{i}.png", rng.integers(0, 256, (6, 6), dtype=np.uint8))
        victim = root / rng.choice(["a", "b"]) / f"{rng.integers(2)}.png"
        victim.write_bytes(_mutate(victim.read_bytes(), rng))

        def check(dataset):
            assert dataset.images.dtype == np.uint8 and dataset.images.shape[1:] == (6, 6, 1)
            assert len(dataset.images) == 4 and dataset.num_classes == 2

        outcomes.append(_check_answer_or_error(lambda: images.read_folder(root), [victim], check))
    assert outcomes.count("error") > 100 and outcomes.count("answer") > 5


def test_fuzz_graph_serving():
    """Random requests: the answer is finite probabilities for every graph, or an error."""
    import tensorflow as tf

    serve = _graph_serving()
    rng = np.random.default_rng(31)
    outcomes = []
    for _ in range(200):
        n, e = int(rng.integers(1, 6)), int(rng.integers(0, 6))
        graph_ids = np.sort(rng.integers(0, 3, n)).astype(np.int32)
        graph_ids = np.unique(graph_ids, return_inverse=True)[1].astype(np.int32)  # graphs 0..G-1, each with nodes
        request = dict(  # a valid request, then one fault half of the time
            node_features=rng.normal(size=(n, 4)).astype(np.float32),
            senders=rng.integers(0, n, e).astype(np.int32),
            receivers=rng.integers(0, n, e).astype(np.int32),
            graph_ids=graph_ids,
            num_graphs=np.int32(graph_ids.max() + 1),
        )
        fault = rng.integers(8)
        if fault == 0:
            request["node_features"][rng.integers(n), rng.integers(4)] = rng.choice([np.nan, np.inf])
        elif fault == 1 and e:
            request[rng.choice(["senders", "receivers"])][rng.integers(e)] = rng.choice([-1, n, 2**31 - 1])
        elif fault == 2:
            request["num_graphs"] = np.int32(rng.choice([0, request["num_graphs"] + 1, 10**6, 2**31 - 1]))
        elif fault == 3:
            request["graph_ids"] = np.append(graph_ids, 0).astype(np.int32)
        elif fault == 4:
            request["senders"] = request["senders"][:-1] if e else np.zeros(1, np.int32)
        try:
            with _time_limit(20):
                result = serve(**{k: tf.constant(v) for k, v in request.items()})
        except tf.errors.InvalidArgumentError:
            outcomes.append("error")
            continue
        p = result["probabilities"].numpy()
        assert p.shape == (request["num_graphs"], 2) and np.isfinite(p).all()
        np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
        outcomes.append("answer")
    assert outcomes.count("error") > 100 and outcomes.count("answer") > 5


def test_fuzz_speech_serving():
    """Random waveforms and lengths: text for each, or an error; never NaN logits."""
    import tensorflow as tf

    from seqgraph.apps.speech.model import build_model
    from seqgraph.apps.speech.serving import serving_functions

    model = build_model(([0.0] * 8, [1.0] * 8), mels=8, dim=8, blocks=1, heads=2, window=2, ffn_dim=8, lstm_units=4)
    signature, serve, _ = serving_functions(model)[:3]
    serve = tf.function(serve, input_signature=signature)
    rng = np.random.default_rng(32)
    outcomes = []
    for _ in range(100):
        batch, samples = int(rng.integers(0, 3)), int(rng.integers(0, 2000))
        wave = rng.normal(0, 0.1, (batch, samples)).astype(np.float32)
        if batch and samples and rng.random() < 0.3:
            wave[rng.integers(batch), rng.integers(samples)] = rng.choice([np.nan, np.inf])
        lengths = rng.integers(-1, samples + 2, int(rng.choice([batch, batch + 1]))).astype(np.int32)
        try:
            with _time_limit(30):
                result = serve(waveform=tf.constant(wave), lengths=tf.constant(lengths))
        except tf.errors.InvalidArgumentError:
            outcomes.append("error")
            continue
        assert result["text"].shape == (batch,) and np.isfinite(result["logits"].numpy()).all()
        outcomes.append("answer")
    assert outcomes.count("error") > 30 and outcomes.count("answer") > 10


def test_workers_filling_one_cache_at_once_do_not_collide(tmp_path):
    """Two workers of a cluster read the same dataset into one cache: each writes its own
    temporary file (a shared name made one of them fail, "MUTAG.npz.tmp: No such file")."""
    rng = np.random.default_rng(0)
    sizes = rng.integers(5, 30, 3000)  # big enough that writing the cache takes a while
    indicator = np.repeat(np.arange(1, len(sizes) + 1), sizes)
    starts = np.concatenate([[1], np.cumsum(sizes)[:-1] + 1])
    edges = np.concatenate([np.stack([starts + i, starts + i + 1], 1)[sizes > i + 1] for i in range(30)])
    write_tu(
        tmp_path / "data" / "TOY",
        A="".join(f"{a}, {b}\n" for a, b in edges),
        graph_indicator="".join(f"{g}\n" for g in indicator),
        graph_labels="".join(f"{g % 2}\n" for g in range(len(sizes))),
        node_labels="".join(f"{v}\n" for v in rng.integers(0, 5, len(indicator))),
        node_attributes="".join(f"{v:.6f}, {w:.6f}\n" for v, w in rng.normal(size=(len(indicator), 2))),
    )
    script = (
        "import sys; from seqgraph.datasets import graphs; "
        "print(graphs.load_tu('TOY', sys.argv[1], cache_dir=sys.argv[2]).num_graphs)"
    )
    for attempt in range(3):
        cache = tmp_path / f"cache{attempt}"
        readers = [
            subprocess.Popen(
                [sys.executable, "-c", script, str(tmp_path / "data"), str(cache)], stdout=subprocess.PIPE, text=True
            )
            for _ in range(4)
        ]
        assert [r.communicate(timeout=120)[0].strip() for r in readers] == ["3000"] * 4
        assert [p.name for p in (cache / "tu").iterdir()] == ["TOY.npz"]
