"""Graph classification data: TU Dortmund reader, an embedded generated dataset, disjoint batches.

A dataset holds every graph of a collection in one disjoint form (DESIGN.md): ``node_features
[N, F]``, ``senders``/``receivers [E]`` (global node ids), ``node_graph [N]`` (graph index per
node) and ``labels [G]``, with nodes and edges stored graph after graph.
"""

import hashlib
import io
import math
import os
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from seqgraph.datasets import DataError, zip_errors

TU_URL = "https://www.chrsmrrs.de/graphkerneldatasets/{name}.zip"
DEFAULT_CACHE = Path(os.environ.get("SEQGRAPH_CACHE", Path.home() / ".cache" / "seqgraph"))


class GraphDataError(DataError):
    """A dataset file is missing or malformed; the message names the file (and line)."""


@dataclass
class GraphDataset:
    name: str
    node_features: np.ndarray  # [N, F] float32
    senders: np.ndarray  # [E] int32, global node ids
    receivers: np.ndarray  # [E] int32
    node_graph: np.ndarray  # [N] int32, graph index of each node (non-decreasing)
    labels: np.ndarray  # [G] int32 in 0..C-1
    label_names: list = field(default_factory=list)  # original label of each class, as text
    num_attributes: int = 0  # trailing columns of node_features that are TU node attributes

    def __post_init__(self):
        g = len(self.labels)
        self.node_offsets = np.concatenate([[0], np.cumsum(np.bincount(self.node_graph, minlength=g))])
        # Edges by receiver, so by graph too (a graph's nodes are contiguous): every batch is then
        # sorted by receiver, which layers.graph aggregates faster.
        order = np.argsort(self.receivers, kind="stable")
        self.senders, self.receivers = self.senders[order], self.receivers[order]
        edge_graph = self.node_graph[self.senders] if len(self.senders) else np.zeros(0, np.int64)
        self.edge_offsets = np.concatenate([[0], np.cumsum(np.bincount(edge_graph, minlength=g))])

    @cached_property
    def symmetric(self):
        """Whether every edge u -> v comes with its reverse v -> u, as often (undirected graphs
        listed both ways, as in MUTAG and PROTEINS): GIN then trains faster (``GINConv.symmetric_edges``).
        Cached: the app asks once per fold, and it sorts every edge."""
        n = np.int64(len(self.node_graph))
        forward = np.sort(self.senders.astype(np.int64) * n + self.receivers)
        backward = np.sort(self.receivers.astype(np.int64) * n + self.senders)
        return bool(np.array_equal(forward, backward))

    @property
    def num_graphs(self):
        return len(self.labels)

    @property
    def num_classes(self):
        return len(self.label_names)

    @property
    def num_features(self):
        return self.node_features.shape[1]

    def batch(self, indices):
        """Disjoint batch of the graphs ``indices``: dict of model inputs, and their labels."""
        indices = np.asarray(indices)
        n0, n1 = self.node_offsets[indices], self.node_offsets[indices + 1]
        e0, e1 = self.edge_offsets[indices], self.edge_offsets[indices + 1]
        nodes = _ranges(n0, n1)
        edges = _ranges(e0, e1)
        new_start = np.concatenate([[0], np.cumsum(n1 - n0)[:-1]])
        # global node id -> position in the batch: shift each graph's nodes to its new start
        shift = np.repeat(new_start - n0, e1 - e0)
        inputs = {
            "node_features": self.node_features[nodes],
            "senders": (self.senders[edges] + shift).astype("int32"),
            "receivers": (self.receivers[edges] + shift).astype("int32"),
            "graph_ids": np.repeat(np.arange(len(indices), dtype="int32"), n1 - n0),
            "num_graphs": np.int32(len(indices)),
        }
        return inputs, self.labels[indices]

    def attribute_stats(self, indices):
        """``(mean, variance)`` of each node feature over the graphs ``indices``, for
        standardising the node attributes inside a model (``layers.Standardize``): the TU node
        attributes get their mean and variance (a constant one variance 1, so a value unseen in
        training is not blown up); the one-hot label columns get 0 and 1 and stay as they are
        (standardising a rare label would turn its 1 into ~30)."""
        mean, variance = np.zeros(self.num_features), np.ones(self.num_features)
        if self.num_attributes:
            attributes = self.batch(indices)[0]["node_features"][:, -self.num_attributes :]
            mean[-self.num_attributes :] = attributes.mean(0)
            spread = attributes.astype("float64").var(0)
            variance[-self.num_attributes :] = np.where(spread > 1e-6, spread, 1.0)
        return mean.tolist(), variance.tolist()

    def without_node_attributes(self):
        """The same graphs with only the one-hot node labels as features (as PyG's TUDataset
        and the GIN paper use them)."""
        keep = self.num_features - self.num_attributes
        if keep == 0:
            raise GraphDataError(f"{self.name} has no node labels to keep without its node attributes")
        return GraphDataset(
            self.name,
            self.node_features[:, :keep],
            self.senders,
            self.receivers,
            self.node_graph,
            self.labels,
            self.label_names,
            0,
        )

    def to_npz(self, path, signature=""):
        """Save (no pickle) through a temp file, so a cache is never half-written."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # one per process: workers share caches
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f,
                name=self.name,
                node_features=self.node_features,
                senders=self.senders,
                receivers=self.receivers,
                node_graph=self.node_graph,
                labels=self.labels,
                label_names=np.array(self.label_names),
                num_attributes=self.num_attributes,
                signature=signature,
            )
        os.replace(tmp, path)

    @classmethod
    def from_npz(cls, path):
        with np.load(path, allow_pickle=False) as z:
            return cls(
                str(z["name"]),
                z["node_features"],
                z["senders"],
                z["receivers"],
                z["node_graph"],
                z["labels"],
                [str(s) for s in z["label_names"]],
                int(z["num_attributes"]),
            ), str(z["signature"])


def _ranges(starts, stops):
    """Concatenation of arange(start, stop) for each pair, without a Python loop."""
    lengths = stops - starts
    if lengths.sum() == 0:
        return np.zeros(0, np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(lengths.sum()) + offsets


# ----------------------------------------------------------------------------- TU format
class _Source:
    """The files of one TU dataset, in a folder or a zip (``NAME/NAME_A.txt`` inside)."""

    def __init__(self, path, name):
        self.path, self.name = Path(path), name
        if self.path.suffix == ".zip":
            if not self.path.is_file():
                raise GraphDataError(f"{self.path}: no such zip file")
            try:
                with zipfile.ZipFile(self.path) as z:
                    names = [m for m in z.namelist() if not m.endswith("/")]
            except zip_errors() as e:
                raise GraphDataError(f"{self.path}: not a readable zip file ({e})") from None
            self.members = {}
            for member in names:
                other = self.members.setdefault(Path(member).name, member)
                if other != member:
                    raise GraphDataError(f"{self.path}: holds {other} and {member}; which one is meant?")
        elif self.path.is_dir():
            folder = self.path / name if (self.path / name / f"{name}_A.txt").exists() else self.path
            self.members = {p.name: p for p in folder.glob(f"{name}_*.txt")}
        else:
            raise GraphDataError(f"{self.path}: no such folder or zip file")
        for part in ("A", "graph_indicator", "graph_labels"):
            if f"{name}_{part}.txt" not in self.members:
                raise GraphDataError(
                    f"{self.path}: missing {name}_{part}.txt (a TU dataset needs "
                    f"{name}_A.txt, {name}_graph_indicator.txt and {name}_graph_labels.txt)"
                )

    def has(self, part):
        return f"{self.name}_{part}.txt" in self.members

    def label(self, part):
        """How error messages name a file."""
        return (
            str(self.path / f"{self.name}_{part}.txt")
            if self.path.is_dir()
            else f"{self.path}:{self.members[f'{self.name}_{part}.txt']}"
        )

    def text(self, part):
        member = self.members[f"{self.name}_{part}.txt"]
        if self.path.suffix == ".zip":
            try:
                with zipfile.ZipFile(self.path) as z:
                    raw = z.read(member)
            except zip_errors() as e:
                raise GraphDataError(f"{self.label(part)}: cannot be read from the zip ({e})") from None
        else:
            raw = Path(member).read_bytes()
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise GraphDataError(f"{self.label(part)}: not UTF-8 text (byte {e.start})") from None

    def signature(self):
        """Changes whenever a file changes: names, sizes and contents' hash."""
        h = hashlib.sha256()
        for key in sorted(self.members):
            h.update(key.encode())
            h.update(self.text(key[len(self.name) + 1 : -4]).encode())
        return h.hexdigest()

    def rows(self, part, kind, columns=None):
        """Parse every non-empty line as comma-separated ``kind`` values -> 2-D array."""
        out = []
        for number, line in enumerate(io.StringIO(self.text(part)), start=1):
            line = line.strip()
            if not line:
                continue
            fields = [f.strip() for f in line.split(",")]
            try:
                values = [_number(f) if kind is float else _integer(f) for f in fields]
            except ValueError:
                want = "integers (below 2^53 in size)" if kind is int else "finite numbers"
                raise GraphDataError(f"{self.label(part)}, line {number}: expected {want}, got {line[:80]!r}") from None
            if columns is None:
                columns = len(values)
            if len(values) != columns:
                raise GraphDataError(f"{self.label(part)}, line {number}: expected {columns} values, got {len(values)}")
            out.append(values)
        if not out:
            return np.zeros((0, columns or 1), dtype=np.float32 if kind is float else np.int64)
        return np.array(out, dtype=np.float32 if kind is float else np.int64)


def _integer(text):
    value = float(text)  # accepts "1", "-1", "1.0"; rejects "a", "nan", "inf", "1.5"
    if not value.is_integer() or abs(value) > 2**53:
        raise ValueError(text)
    return int(value)


def _number(text):
    value = float(text)
    if not math.isfinite(value) or abs(value) > float(np.finfo(np.float32).max):
        raise ValueError(text)
    return value


def read_tu(path, name=None):
    """Read a TU Dortmund dataset from a folder or its zip; ``name`` defaults to the stem."""
    path = Path(path)
    name = name or path.stem
    src = _Source(path, name)
    indicator = src.rows("graph_indicator", int, 1)[:, 0]
    raw_labels = src.rows("graph_labels", int, 1)[:, 0]
    edges = src.rows("A", int, 2)
    n, g = len(indicator), len(raw_labels)
    if n == 0:
        raise GraphDataError(f"{src.label('graph_indicator')}: no nodes")
    bad = np.flatnonzero((indicator < 1) | (indicator > g))
    if len(bad):
        raise GraphDataError(
            f"{src.label('graph_indicator')}, line {bad[0] + 1}: graph id {indicator[bad[0]]} "
            f"is outside 1..{g} (the number of lines in {name}_graph_labels.txt)"
        )
    if np.any(np.diff(indicator) < 0):
        line = int(np.flatnonzero(np.diff(indicator) < 0)[0]) + 2
        raise GraphDataError(
            f"{src.label('graph_indicator')}, line {line}: graph ids must not decrease "
            "(nodes are listed graph after graph)"
        )
    sizes = np.bincount(indicator - 1, minlength=g)
    if np.any(sizes == 0):
        raise GraphDataError(
            f"{src.label('graph_indicator')}: graph {int(np.flatnonzero(sizes == 0)[0]) + 1} has no nodes"
        )
    bad = np.flatnonzero((edges < 1).any(1) | (edges > n).any(1))
    if len(bad):
        raise GraphDataError(
            f"{src.label('A')}, line {bad[0] + 1}: node id out of range 1..{n} in {edges[bad[0]].tolist()}"
        )
    senders, receivers = edges[:, 0] - 1, edges[:, 1] - 1
    cross = np.flatnonzero(indicator[senders] != indicator[receivers])
    if len(cross):
        raise GraphDataError(
            f"{src.label('A')}, line {cross[0] + 1}: edge {edges[cross[0]].tolist()} joins two different graphs"
        )
    for part in ("edge_labels", "edge_attributes"):
        if src.has(part) and len(src.rows(part, float)) != len(edges):
            raise GraphDataError(f"{src.label(part)}: {len(src.rows(part, float))} lines for {len(edges)} edges")

    features, num_attributes = [], 0
    if src.has("node_labels"):
        node_labels = src.rows("node_labels", int)[:, 0]
        if len(node_labels) != n:
            raise GraphDataError(f"{src.label('node_labels')}: {len(node_labels)} lines for {n} nodes")
        values, index = np.unique(node_labels, return_inverse=True)
        features.append(np.eye(len(values), dtype=np.float32)[index])
    if src.has("node_attributes"):
        attributes = src.rows("node_attributes", float)
        if len(attributes) != n:
            raise GraphDataError(f"{src.label('node_attributes')}: {len(attributes)} lines for {n} nodes")
        features.append(attributes)
        num_attributes = attributes.shape[1]
    if not features:  # structure only: one-hot in-degree (capped), as Xu et al. do
        degree = np.minimum(np.bincount(receivers, minlength=n), 31)
        features.append(np.eye(32, dtype=np.float32)[degree])

    classes, labels = np.unique(raw_labels, return_inverse=True)
    return GraphDataset(
        name,
        np.concatenate(features, axis=1),
        senders.astype(np.int32),
        receivers.astype(np.int32),
        (indicator - 1).astype(np.int32),
        labels.astype(np.int32),
        [str(c) for c in classes],
        num_attributes,
    )


def read_json_graphs(path, num_features=None):
    """Graphs to classify from a JSON file: ``{"graphs": [{"node_features": [[...], ...],
    "edges": [[sender, receiver], ...]}, ...]}`` (or the list alone), node ids within each graph
    from 0. Returns a GraphDataset (labels 0); errors name the file and the graph."""
    import json

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise GraphDataError(f"{path}: not a readable JSON file ({e})") from None
    items = data["graphs"] if isinstance(data, dict) and "graphs" in data else data
    return graphs_from_json(items, num_features, source=path)


def graphs_from_json(items, num_features=None, source="graphs"):
    """A GraphDataset (labels 0) of ``items``, graphs as the JSON inputs hold them:
    ``[{"node_features": [[...], ...], "edges": [[sender, receiver], ...]}, ...]``, node ids
    within each graph from 0; each graph needs ``num_features`` features (default: as many as
    the first has). Errors name ``source`` and the graph."""
    path = source
    if not isinstance(items, list) or not items:
        raise GraphDataError(f'{path}: expected a list of graphs under "graphs"')
    features, senders, receivers, node_graph = [], [], [], []
    offset = 0
    for i, item in enumerate(items):
        try:
            x = np.asarray(item["node_features"], dtype=np.float64)
            edges = np.asarray(item.get("edges", []), dtype=np.float64).reshape(-1, 2)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as e:
            raise GraphDataError(
                f"{path}: graph {i}: needs node_features [n, {num_features or 'features'}] and edges "
                f"[[sender, receiver], ...] ({e})"
            ) from None
        if x.size == 0:
            raise GraphDataError(f"{path}: graph {i} has no nodes")
        if not np.all(np.isfinite(x) & (np.abs(x) <= np.finfo(np.float32).max)):
            raise GraphDataError(
                f"{path}: graph {i}: node_features hold a value that is not a finite float32 (NaN, Inf)"
            )
        whole = np.isfinite(edges) & (edges == np.round(edges))
        if not whole.all():
            bad = edges[~whole.all(1)][0].tolist()
            raise GraphDataError(f"{path}: graph {i}: edges must hold integer node ids, got {bad}")
        x = x.astype(np.float32)
        if num_features is None and x.ndim == 2:
            num_features = x.shape[1]
        if x.ndim != 2 or x.shape[1] != num_features:
            raise GraphDataError(
                f"{path}: graph {i}: node_features has shape {list(x.shape)}, the model expects [n, {num_features}]"
            )
        if len(edges) and (edges.min() < 0 or edges.max() >= len(x)):
            raise GraphDataError(f"{path}: graph {i}: an edge names a node outside 0..{len(x) - 1}")
        edges = edges.astype(np.int64)
        features.append(x)
        senders.append(edges[:, 0] + offset)
        receivers.append(edges[:, 1] + offset)
        node_graph.append(np.full(len(x), i))
        offset += len(x)
    return GraphDataset(
        Path(str(path)).name,
        np.concatenate(features),
        np.concatenate(senders).astype(np.int32),
        np.concatenate(receivers).astype(np.int32),
        np.concatenate(node_graph).astype(np.int32),
        np.zeros(len(items), np.int32),
        [],
    )


def load_tu(name, data_dir, cache_dir=DEFAULT_CACHE, download=False):
    """``name`` from ``data_dir`` (folder ``NAME/``, ``NAME.zip`` or the files themselves),
    through an ``.npz`` cache that is rebuilt when the source files change."""
    data_dir = Path(data_dir)
    candidates = [data_dir / name, data_dir / f"{name}.zip", data_dir]
    path = next((p for p in candidates if (p / f"{name}_A.txt").exists() or p.suffix == ".zip" and p.exists()), None)
    if path is None and download:
        path = download_tu(name, data_dir)
    if path is None:
        raise GraphDataError(
            f"dataset {name!r} not found in {data_dir} (looked for {name}/, {name}.zip "
            f"and {name}_A.txt; pass --download to fetch it)"
        )
    source = _Source(path, name)
    signature = source.signature()
    cache = Path(cache_dir) / "tu" / f"{name}.npz"
    if cache.exists():
        try:
            dataset, cached = GraphDataset.from_npz(cache)
            if cached == signature:
                return dataset
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache: rebuild it
    dataset = read_tu(path, name)
    dataset.to_npz(cache, signature)
    return dataset


def download_tu(name, data_dir):
    """Fetch ``NAME.zip`` from the TU collection into ``data_dir`` (temp file, then rename)."""
    import urllib.request

    target = Path(data_dir) / f"{name}.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.part")
    try:
        with urllib.request.urlopen(TU_URL.format(name=name), timeout=60) as response, open(tmp, "wb") as f:
            f.write(response.read())
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise GraphDataError(
            f"could not download TU dataset {name!r} ({e}); check the name "
            "and the network, or put the files in --data-dir"
        ) from None
    os.replace(tmp, target)
    return target


# ----------------------------------------------------------------------------- embedded data
FAMILIES = ("tree", "cycle_with_chords", "grid", "barabasi_albert", "erdos_renyi", "small_world")


def synthetic_graphs(num_graphs=600, seed=0, min_nodes=12, max_nodes=40):
    """Graphs of six families (the label) with overlapping sizes and similar mean degrees.

    Node features are a noisy one-hot 'type' that carries no family information, so a model
    must read the structure. Deterministic per seed.
    """
    import networkx as nx

    rng = np.random.default_rng(seed)
    graphs = []
    for i in range(num_graphs):
        family = i % len(FAMILIES)
        n = int(rng.integers(min_nodes, max_nodes + 1))
        s = int(rng.integers(2**31))
        if family == 0:
            g = nx.random_labeled_tree(n, seed=s)
        elif family == 1:
            g = nx.cycle_graph(n)
            for _ in range(max(1, n // 4)):
                a, b = rng.integers(0, n, 2)
                if a != b:
                    g.add_edge(int(a), int(b))
        elif family == 2:
            rows = int(rng.integers(3, 7))
            g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(rows, max(2, n // rows)))
        elif family == 3:
            g = nx.barabasi_albert_graph(n, 2, seed=s)
        elif family == 4:
            g = nx.gnp_random_graph(n, 4.0 / (n - 1), seed=s)
        else:
            g = nx.watts_strogatz_graph(n, 4, 0.2, seed=s)
        graphs.append((g, family))
    order = rng.permutation(num_graphs)
    features, senders, receivers, node_graph, labels, offset = [], [], [], [], [], 0
    for index, i in enumerate(order):
        g, family = graphs[i]
        n = g.number_of_nodes()
        edges = np.array(list(g.edges()), dtype=np.int64).reshape(-1, 2)
        senders += [edges[:, 0] + offset, edges[:, 1] + offset]
        receivers += [edges[:, 1] + offset, edges[:, 0] + offset]
        features.append(np.eye(4, dtype=np.float32)[rng.integers(0, 4, n)])
        node_graph.append(np.full(n, index))
        labels.append(family)
        offset += n
    return GraphDataset(
        "synthetic",
        np.concatenate(features),
        np.concatenate(senders).astype(np.int32),
        np.concatenate(receivers).astype(np.int32),
        np.concatenate(node_graph).astype(np.int32),
        np.array(labels, np.int32),
        list(FAMILIES),
    )


def load(name, data_dir=None, seed=0, download=False, cache_dir=DEFAULT_CACHE, node_attributes=True):
    """``synthetic`` (embedded, no files) or a TU dataset by name from ``data_dir``."""
    if name == "synthetic":
        return synthetic_graphs(seed=seed)
    if data_dir is None and not download:
        raise GraphDataError(
            f"dataset {name!r} needs --data-dir (a folder with {name}/ or {name}.zip) "
            "or --download; the embedded dataset is 'synthetic'"
        )
    dataset = load_tu(name, data_dir or Path(cache_dir) / "downloads", cache_dir, download)
    return dataset if node_attributes else dataset.without_node_attributes()


# ----------------------------------------------------------------------------- pipelines
def stratified_folds(labels, folds, seed=0):
    """[(train_indices, test_indices)] for stratified k-fold (scikit-learn); folds=1: one 90/10 split."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    indices = np.arange(len(labels))
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise GraphDataError(f"all {len(labels)} graphs have one class: classification needs two classes or more")
    least = int(counts.min())
    if least < max(folds, 2):
        raise GraphDataError(
            f"--folds {folds}: class {int(classes[counts.argmin()])} has {least} graph(s); stratified folds need "
            f"{max(folds, 2)} or more in every class (use --folds {least} or fewer)"
            if least >= 2
            else f"class {int(classes[counts.argmin()])} has a single graph: it cannot be both trained on and held out"
        )
    if folds == 1:
        train, test = train_test_split(indices, test_size=0.1, stratify=labels, random_state=seed)
        return [(np.sort(train), np.sort(test))]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(indices, labels))


def tf_dataset(dataset, indices, batch_size, shuffle=False, seed=0, split=None):
    """A ``tf.data.Dataset`` of disjoint batches ``(inputs dict, labels)``, reshuffled each epoch
    (deterministically per seed), no padding to a maximum graph size. ``split`` (a function of
    the dataset of graph-index batches) cuts the batches into parts before their graphs are
    gathered, one disjoint batch each (``apps.training.replica_batches``: a replica's part).

    Batches are gathered with TF ops from the dataset's arrays held as tensors, so the pipeline
    runs beside training instead of holding the GIL as a Python generator would. Training loops
    should ``.repeat()`` it with a fixed number of steps: a new iterator per epoch costs ~60 ms."""
    import tensorflow as tf

    features = tf.constant(dataset.node_features, tf.float32)
    senders, receivers = tf.constant(dataset.senders, tf.int32), tf.constant(dataset.receivers, tf.int32)
    node_offsets = tf.constant(dataset.node_offsets, tf.int32)
    edge_offsets = tf.constant(dataset.edge_offsets, tf.int32)
    labels = tf.constant(dataset.labels, tf.int32)

    def gather(graphs):
        n0, n1 = tf.gather(node_offsets, graphs), tf.gather(node_offsets, graphs + 1)
        e0, e1 = tf.gather(edge_offsets, graphs), tf.gather(edge_offsets, graphs + 1)
        nodes, edges = tf.ragged.range(n0, n1).flat_values, tf.ragged.range(e0, e1).flat_values
        # global node id -> position in the batch: shift each graph's nodes to its new start
        shift = tf.repeat(tf.math.cumsum(n1 - n0, exclusive=True) - n0, e1 - e0)
        count = tf.shape(graphs)[0]
        return {
            "node_features": tf.gather(features, nodes),
            "senders": tf.gather(senders, edges) + shift,
            "receivers": tf.gather(receivers, edges) + shift,
            "graph_ids": tf.repeat(tf.range(count), n1 - n0),
            "num_graphs": count,
        }, tf.gather(labels, graphs)

    ds = tf.data.Dataset.from_tensor_slices(np.asarray(indices, "int32"))
    if shuffle:
        ds = ds.shuffle(len(indices), seed=seed, reshuffle_each_iteration=True)
    # A sequential map: gathering a PROTEINS epoch takes ~5 ms; parallel calls would only take
    # cores from training on a small machine.
    ds = ds.batch(batch_size)
    return (split(ds) if split else ds).map(gather).prefetch(tf.data.AUTOTUNE)
