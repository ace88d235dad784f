import zipfile

import numpy as np
import pytest

from seqgraph.datasets import graphs
from seqgraph.datasets.graphs import GraphDataError

# Three graphs: a triangle (nodes 1-3), an edge (4-5), a lone node (6).
TOY = {
    "A": "1, 2\n2, 1\n2, 3\n3, 2\n3, 1\n1, 3\n4, 5\n5, 4\n",
    "graph_indicator": "1\n1\n1\n2\n2\n3\n",
    "graph_labels": "1\n-1\n1\n",
    "node_labels": "0\n1\n0\n2\n2\n1\n",
    "node_attributes": "0.5, 1\n1.5, 2\n2.5, 3\n3.5, 4\n4.5, 5\n5.5, 6\n",
}


def write_tu(folder, name="TOY", **changes):
    folder.mkdir(parents=True, exist_ok=True)
    for part, text in {**TOY, **changes}.items():
        if text is not None:
            (folder / f"{name}_{part}.txt").write_text(text)
    return folder


def test_reads_toy_dataset(tmp_path):
    d = graphs.read_tu(write_tu(tmp_path / "TOY"), "TOY")
    assert d.num_graphs == 3 and d.num_classes == 2 and d.label_names == ["-1", "1"]
    np.testing.assert_array_equal(d.labels, [1, 0, 1])
    np.testing.assert_array_equal(d.node_graph, [0, 0, 0, 1, 1, 2])
    # one-hot node labels (values 0, 1, 2) then the two attributes
    np.testing.assert_array_equal(d.node_features[1], [0, 1, 0, 1.5, 2])
    assert sorted(zip(d.senders.tolist(), d.receivers.tolist()))[:2] == [(0, 1), (0, 2)]


def test_reads_the_zip_as_distributed(tmp_path):
    folder = write_tu(tmp_path / "src" / "TOY")
    with zipfile.ZipFile(tmp_path / "TOY.zip", "w") as z:
        for f in folder.iterdir():
            z.write(f, f"TOY/{f.name}")
    from_zip = graphs.read_tu(tmp_path / "TOY.zip")
    from_dir = graphs.read_tu(folder, "TOY")
    np.testing.assert_array_equal(from_zip.node_features, from_dir.node_features)
    np.testing.assert_array_equal(from_zip.senders, from_dir.senders)


def test_batch_renumbers_nodes(tmp_path):
    d = graphs.read_tu(write_tu(tmp_path / "TOY"), "TOY")
    inputs, labels = d.batch(np.array([1, 2, 0]))
    np.testing.assert_array_equal(labels, [0, 1, 1])
    np.testing.assert_array_equal(inputs["graph_ids"], [0, 0, 1, 2, 2, 2])
    np.testing.assert_array_equal(inputs["node_features"][:, 3], [3.5, 4.5, 5.5, 0.5, 1.5, 2.5])
    edges = sorted(zip(inputs["senders"].tolist(), inputs["receivers"].tolist()))
    assert edges == [(0, 1), (1, 0), (3, 4), (3, 5), (4, 3), (4, 5), (5, 3), (5, 4)]
    assert inputs["num_graphs"] == 3


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"graph_labels": "1\nyes\n1\n"}, r"TOY_graph_labels.txt, line 2: expected integers"),
        ({"A": "1, 2\n2, 9\n"}, r"TOY_A.txt, line 2: node id out of range 1..6"),
        ({"A": "1, 4\n"}, r"TOY_A.txt, line 1: edge \[1, 4\] joins two different graphs"),
        ({"graph_indicator": "1\n1\n1\n3\n3\n3\n"}, r"graph 2 has no nodes"),
        ({"graph_indicator": "1\n1\n1\n2\n2\n4\n"}, r"TOY_graph_indicator.txt, line 6: graph id 4 is outside 1..3"),
        ({"node_labels": "0\n1\n"}, r"TOY_node_labels.txt: 2 lines for 6 nodes"),
        (
            {"node_attributes": "1, 2\n1\n1, 2\n1, 2\n1, 2\n1, 2\n"},
            r"TOY_node_attributes.txt, line 2: expected 2 values",
        ),
        ({"A": "1 2\n"}, r"TOY_A.txt, line 1: expected integers"),
        ({"graph_labels": None}, r"missing TOY_graph_labels.txt"),
    ],
)
def test_malformed_files_name_the_file_and_line(tmp_path, changes, message):
    with pytest.raises(GraphDataError, match=message):
        graphs.read_tu(write_tu(tmp_path / "TOY", **changes), "TOY")


def test_unknown_dataset_names_where_it_looked(tmp_path):
    with pytest.raises(GraphDataError, match=r"'NOPE' not found in .*--download"):
        graphs.load("NOPE", tmp_path)
    with pytest.raises(GraphDataError, match="needs --data-dir"):
        graphs.load("MUTAG")


def test_cache_is_reused_and_rebuilt_when_files_change(tmp_path):
    folder = write_tu(tmp_path / "data" / "TOY")
    cache = tmp_path / "cache"
    first = graphs.load_tu("TOY", tmp_path / "data", cache)
    assert (cache / "tu" / "TOY.npz").exists()
    again = graphs.load_tu("TOY", tmp_path / "data", cache)
    np.testing.assert_array_equal(first.labels, again.labels)
    (folder / "TOY_graph_labels.txt").write_text("1\n1\n-1\n")
    changed = graphs.load_tu("TOY", tmp_path / "data", cache)
    np.testing.assert_array_equal(changed.labels, [1, 1, 0])


@pytest.mark.parametrize(
    "edges, symmetric",
    [
        (TOY["A"], True),
        ("1, 2\n2, 1\n2, 3\n", False),  # 2 -> 3 without 3 -> 2
        ("1, 2\n2, 1\n1, 2\n", False),  # 1 -> 2 twice, 2 -> 1 once
        ("1, 1\n4, 5\n5, 4\n", True),  # a self-loop is its own reverse
    ],
)
def test_symmetric_means_every_edge_has_its_reverse_as_often(tmp_path, edges, symmetric):
    assert graphs.read_tu(write_tu(tmp_path / "TOY", A=edges), "TOY").symmetric is symmetric


def test_synthetic_graphs_are_deterministic_and_balanced():
    a, b = graphs.synthetic_graphs(120, seed=3), graphs.synthetic_graphs(120, seed=3)
    np.testing.assert_array_equal(a.senders, b.senders)
    np.testing.assert_array_equal(a.node_features, b.node_features)
    assert not np.array_equal(a.senders, graphs.synthetic_graphs(120, seed=4).senders)
    assert np.all(np.bincount(a.labels) == 20)
    assert a.label_names == list(graphs.FAMILIES)


def test_folds_are_stratified_and_disjoint():
    labels = np.array([0] * 30 + [1] * 70)
    folds = graphs.stratified_folds(labels, 10)
    tests = np.concatenate([test for _, test in folds])
    np.testing.assert_array_equal(np.sort(tests), np.arange(100))
    for train, test in folds:
        assert not set(train) & set(test)
        assert labels[test].sum() == 7
    ((train, test),) = graphs.stratified_folds(labels, 1)
    assert len(test) == 10 and labels[test].sum() == 7


def test_tf_dataset_reshuffles_each_epoch():
    d = graphs.synthetic_graphs(60, seed=0)
    ds = graphs.tf_dataset(d, np.arange(60), batch_size=16, shuffle=True)
    epochs = [[y.numpy().tolist() for _, y in ds] for _ in range(2)]
    assert [len(b) for b in epochs[0]] == [16, 16, 16, 12]
    assert sorted(sum(epochs[0], [])) == sorted(d.labels.tolist())
    assert epochs[0] != epochs[1]
    inputs, _ = next(iter(ds))
    assert int(inputs["num_graphs"]) == 16 and int(inputs["graph_ids"].numpy().max()) == 15


def test_node_attributes_can_be_left_out(tmp_path):
    folder = write_tu(tmp_path / "data" / "TOY")
    d = graphs.load("TOY", tmp_path / "data", cache_dir=tmp_path / "cache", node_attributes=False)
    assert d.num_features == 3 and d.num_attributes == 0
    np.testing.assert_array_equal(d.node_features[1], [0, 1, 0])
    cached = graphs.load_tu("TOY", tmp_path / "data", tmp_path / "cache")
    assert cached.num_attributes == 2
    (folder / "TOY_node_labels.txt").unlink()
    with pytest.raises(GraphDataError, match="no node labels"):
        graphs.read_tu(folder, "TOY").without_node_attributes()


def test_tf_dataset_batches_match_numpy_batches():
    d = graphs.synthetic_graphs(40, seed=1)
    order = np.array([5, 3, 17, 0, 39, 22, 8])
    ((inputs, labels),) = list(graphs.tf_dataset(d, order, batch_size=7))
    expected, expected_labels = d.batch(order)
    for key, value in expected.items():
        np.testing.assert_array_equal(inputs[key].numpy(), value, err_msg=key)
    np.testing.assert_array_equal(labels.numpy(), expected_labels)
    first = [[y.numpy().tolist() for _, y in graphs.tf_dataset(d, order, 3, shuffle=True, seed=4)] for _ in range(2)]
    assert first[0] == first[1]  # same seed, same order
