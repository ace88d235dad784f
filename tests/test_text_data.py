import collections
import zipfile

import numpy as np
import pytest

from seqgraph.datasets import text
from seqgraph.datasets.text import CorpusError, Vocabulary


def test_text_lines_and_tokenisation(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("The cat's hat. A DOG ran!\n\nIt_was 3 o'clock", encoding="utf-8")
    assert text.read_corpus(path, "text") == [
        ["the", "cat's", "hat"],
        ["a", "dog", "ran"],
        ["it", "was", "3", "o'clock"],
    ]
    assert text.read_corpus(path, "lines", lowercase=False, tokenizer="whitespace") == [
        ["The", "cat's", "hat.", "A", "DOG", "ran!"],
        ["It_was", "3", "o'clock"],
    ]


def test_brown_zip_drops_tags_punctuation_and_other_files(tmp_path):
    path = tmp_path / "brown.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("brown/ca01", "\n\n\tThe/at Jury/nn-tl said/vbd ,/, ``/`` no/at\n\n\tIt/pps ran/vbd ./.\n")
        z.writestr("brown/README", "not/a corpus/file")
        z.writestr("brown/cats.txt", "ca01 news")
    assert text.guess_format(path) == "brown"
    assert text.read_corpus(path) == [["the", "jury", "said", "no"], ["it", "ran"]]


def test_text8_is_cut_into_pieces(tmp_path):
    path = tmp_path / "text8"
    path.write_text(" ".join(["anarchism", "originated"] * 15_000))
    assert text.guess_format(path) == "text8"
    sentences = text.read_corpus(path)
    assert [len(s) for s in sentences] == [10_000, 10_000, 10_000]


def test_bad_corpora_are_named(tmp_path):
    (tmp_path / "good.txt").write_text("fine words\n")
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9 au lait")
    with pytest.raises(CorpusError, match=r"bad.txt: not utf-8 at byte offset 3.*--encoding"):
        text.read_corpus(tmp_path)
    with pytest.raises(CorpusError, match="no such file"):
        text.read_corpus(tmp_path / "missing.txt")
    (tmp_path / "bad.txt").write_text("... !!!\n")
    (tmp_path / "good.txt").unlink()
    with pytest.raises(CorpusError, match="no words"):
        text.read_corpus(tmp_path / "bad.txt")


def test_vocabulary(tmp_path):
    sentences = [["b", "a", "c", "a"], ["c", "b", "d", "a"]]
    vocab = Vocabulary.build(sentences, min_count=2)
    assert vocab.words == ["<pad>", "a", "b", "c"] and vocab.counts.tolist() == [0, 3, 2, 2]
    assert Vocabulary.build(sentences, min_count=1, max_vocab=2).words == ["<pad>", "a", "b"]
    ids, sentence_ids = vocab.encode(sentences)
    assert ids.tolist() == [2, 1, 3, 1, 3, 2, 1] and sentence_ids.tolist() == [0, 0, 0, 0, 1, 1, 1]
    vocab.save(tmp_path / "vocab.tsv")
    loaded = Vocabulary.load(tmp_path / "vocab.tsv")
    assert loaded.words == vocab.words and loaded.counts.tolist() == vocab.counts.tolist()
    (tmp_path / "vocab.tsv").write_text("a\t3\nb\tmany\n")
    with pytest.raises(CorpusError, match="line 2"):
        Vocabulary.load(tmp_path / "vocab.tsv")
    with pytest.raises(CorpusError, match="min_count=9"):
        Vocabulary.build(sentences, min_count=9)


def test_subsampling_and_negative_distributions():
    vocab = Vocabulary(["<pad>", "the", "cat"], [0, 9000, 1000])
    keep = vocab.keep_probabilities(1e-3)
    t = 1e-3 * 10_000
    np.testing.assert_allclose(keep[1], (np.sqrt(9000 / t) + 1) * t / 9000, rtol=1e-6)
    assert keep[1] < keep[2] <= 1.0
    cdf = vocab.negative_cdf()
    np.testing.assert_allclose(np.diff(cdf, prepend=0), [0, 9000**0.75, 1000**0.75] / np.sum([9000**0.75, 1000**0.75]))


@pytest.mark.parametrize("counts", [[0, 9000, 1000], [0, 5, 5, 5, 5], [0] + list(range(1000, 0, -7)), [0, 1, 10**6]])
def test_alias_table_gives_each_id_its_probability(counts):
    """An id is drawn by its own column (probability accept / n) or as the alias of others'."""
    vocab = Vocabulary([f"w{i}" for i in range(len(counts))], counts)
    accept, alias = vocab.negative_alias()
    n = len(counts)
    drawn = accept / n + np.bincount(alias, weights=(1 - accept.astype(np.float64)) / n, minlength=n)
    np.testing.assert_allclose(drawn, np.diff(vocab.negative_cdf(), prepend=0), atol=1e-7)
    assert drawn[0] == 0 and alias.dtype == np.int32 and np.all((0 <= alias) & (alias < n))


def _corpus(seed=0, sentences=200, vocab_size=50):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(vocab_size)]
    p = 1.0 / np.arange(1, vocab_size + 1)
    return [list(rng.choice(words, rng.integers(3, 12), p=p / p.sum())) for _ in range(sentences)]


def _calls(ds, count):
    """The first ``count`` calls of a dataset as NumPy ``(inputs, candidates, tokens)``."""
    return [(x.numpy(), c.numpy(), t.numpy()) for (x, c), t in ds.take(count)]


def _batches(result, passes=1):
    """Inputs and candidates of the first ``passes`` passes of ``training_dataset``, without the
    examples that pad batches, and the tokens the batches of a pass stand for. Checks that every
    call has one shape."""
    ds, per_pass = result
    calls = _calls(ds, per_pass * passes)
    assert len({(x.shape, c.shape) for x, c, _ in calls}) == 1
    inputs = np.concatenate([x.reshape(-1, *x.shape[2:]) for x, _, _ in calls])
    candidates = np.concatenate([c.reshape(-1, c.shape[-1]) for _, c, _ in calls])
    real = candidates[:, 0] > 0
    return inputs[real], candidates[real], sum(t.sum() for _, _, t in calls) / passes


def test_batches_have_one_shape_and_padding_closes_a_chunk():
    sentences = _corpus(5)
    vocab = Vocabulary.build(sentences, min_count=1)
    ids, sentence_ids = vocab.encode(sentences)
    ds, per_pass = text.training_dataset(ids, sentence_ids, vocab, batch_size=64, chunk_tokens=300)
    calls = _calls(ds, per_pass)
    assert {x.shape for x, _, _ in calls} == {(1, 64)} and {c.shape for _, c, _ in calls} == {(1, 64, 6)}
    batches = [(x[0], c[0], float(t[0])) for x, c, t in calls]
    real = [int((c[:, 0] > 0).sum()) for _, c, _ in batches]
    padded = [i for i, n in enumerate(real) if n < 64]
    assert len(padded) == -(-len(ids) // 300)  # the last batch of each chunk
    for i in padded:
        x, c = batches[i][:2]
        assert np.all(c[: real[i], 0] > 0) and not x[real[i] :].any() and not c[real[i] :].any()
    # a batch stands for tokens in proportion to its real examples; a pass for the whole corpus
    assert sum(t for _, _, t in batches) == pytest.approx(len(ids), rel=1e-5)
    per_example = {round(t / n, 4) for (_, _, t), n in zip(batches, real)}
    assert len(per_example) == len(padded)  # one rate per chunk


@pytest.mark.parametrize("model", ["skipgram", "cbow"])
def test_batches_per_pass_is_the_first_pass_exactly(model):
    """The count is made from the first pass's draws without making its examples: its batches
    stand for the whole corpus, and one batch fewer would not."""
    sentences = _corpus(5)
    vocab = Vocabulary.build(sentences, min_count=1)
    ids, sentence_ids = vocab.encode(sentences)
    for per_call in (1, 4):
        ds, per_pass = text.training_dataset(
            ids, sentence_ids, vocab, model, batch_size=32, seed=5, chunk_tokens=300, batches_per_call=per_call
        )
        tokens = [float(t.numpy().sum()) for _, t in ds.take(per_pass)]
        assert sum(tokens) == pytest.approx(len(ids), rel=1e-5)
        assert sum(tokens[:-1]) < len(ids) - 0.5


def test_calls_hold_the_same_batches_and_pad_only_the_end_of_a_chunk():
    """Calls of 3 batches carry the batches that calls of 1 do, in order; a chunk's last call is
    filled up with batches of padding only, after its real batches."""
    sentences = _corpus(6)
    vocab = Vocabulary.build(sentences, min_count=1)
    ids, sentence_ids = vocab.encode(sentences)
    one, per_pass = text.training_dataset(ids, sentence_ids, vocab, batch_size=16, seed=2, chunk_tokens=400)
    three, calls_per_pass = text.training_dataset(
        ids, sentence_ids, vocab, batch_size=16, seed=2, chunk_tokens=400, batches_per_call=3
    )
    singles, calls = _calls(one, per_pass), _calls(three, calls_per_pass)
    chunks = -(-len(ids) // 400)
    assert {c.shape for _, c, _ in calls} == {(3, 16, 6)} and chunks < calls_per_pass < per_pass
    batches = [(x[i], c[i], t[i]) for x, c, t in calls for i in range(3)]
    real = [b for b in batches if b[1][0, 0] > 0]
    assert len(real) == per_pass
    for (x, c, t), (x1, c1, t1) in zip(real, singles):
        np.testing.assert_array_equal(x, x1[0])
        np.testing.assert_array_equal(c, c1[0])
        assert t == pytest.approx(t1[0])
    for x, c, t in calls:  # empty batches come last in a call and stand for no tokens
        empty = c[:, 0, 0] == 0
        assert np.all(np.diff(empty.astype(int)) >= 0) and not c[empty].any() and not t[empty].any()
    assert sum(bool((c[:, 0, 0] == 0).any()) for _, c, _ in calls) <= chunks  # at most a chunk's last call


def test_skipgram_pairs_with_window_one_are_the_neighbours():
    sentences = _corpus()
    vocab = Vocabulary.build(sentences, min_count=1)
    ids, sentence_ids = vocab.encode(sentences)
    centres, candidates, _ = _batches(
        text.training_dataset(ids, sentence_ids, vocab, window=1, negative=3, sample=0, batch_size=100)
    )
    expected = collections.Counter()
    for s in sentences:
        for a, b in zip(s, s[1:]):
            expected[vocab.index[a], vocab.index[b]] += 1
            expected[vocab.index[b], vocab.index[a]] += 1
    assert collections.Counter(zip(centres.tolist(), candidates[:, 0].tolist())) == expected
    assert candidates.shape[1] == 4 and candidates[:, 1:].min() >= 1 and candidates.max() < len(vocab)


def test_dynamic_window_prefers_near_words_and_stays_in_sentences():
    sentences = [[f"w{i}" for i in range(10)]] * 300  # each word once per sentence: distance is known
    vocab = Vocabulary.build(sentences, min_count=1)
    ids, sentence_ids = vocab.encode(sentences)
    centres, candidates, _ = _batches(text.training_dataset(ids, sentence_ids, vocab, window=4, sample=0))
    distance = collections.Counter(np.abs(centres - candidates[:, 0]).tolist())
    assert set(distance) == {1, 2, 3, 4}
    # b uniform in 1..4 keeps distance d with probability (5 - d) / 4, for 2 (10 - d) ordered pairs
    for d in (1, 2, 3, 4):
        expected = (10 - d) * (5 - d) / (9 * 4)
        assert abs(distance[d] / distance[1] - expected) < 0.03


def test_negatives_follow_count_to_the_three_quarters():
    sentences = _corpus(1, sentences=2000)
    vocab = Vocabulary.build(sentences, min_count=1)
    ids, sentence_ids = vocab.encode(sentences)
    _, candidates, _ = _batches(text.training_dataset(ids, sentence_ids, vocab, window=2, negative=10, sample=0))
    freq = np.bincount(candidates[:, 1:].ravel(), minlength=len(vocab)) / candidates[:, 1:].size
    expected = np.diff(vocab.negative_cdf(), prepend=0)
    assert freq[0] == 0
    np.testing.assert_allclose(freq[1:6], expected[1:6], rtol=0.05)


def test_same_seed_same_passes_passes_differ_and_tokens_add_up():
    sentences = _corpus(2)
    vocab = Vocabulary.build(sentences, min_count=1)
    ids, sentence_ids = vocab.encode(sentences)
    a = _batches(text.training_dataset(ids, sentence_ids, vocab, seed=3, chunk_tokens=500), passes=2)
    b = _batches(text.training_dataset(ids, sentence_ids, vocab, seed=3, chunk_tokens=500), passes=2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    one = _batches(text.training_dataset(ids, sentence_ids, vocab, seed=3, chunk_tokens=500))
    np.testing.assert_array_equal(a[1][: len(one[1])], one[1])
    assert not np.array_equal(a[1][:100], a[1][len(one[1]) :][:100])  # the second pass is a new draw
    assert one[2] == pytest.approx(len(ids), rel=1e-5)
    other_seed = _batches(text.training_dataset(ids, sentence_ids, vocab, seed=4, chunk_tokens=500))
    assert not np.array_equal(one[1][:100], other_seed[1][:100])


def test_subsampling_drops_frequent_words():
    sentences = _corpus(3, sentences=3000)
    vocab = Vocabulary.build(sentences, min_count=1)
    ids, sentence_ids = vocab.encode(sentences)
    kept = _batches(text.training_dataset(ids, sentence_ids, vocab, model="cbow", sample=1e-2), passes=3)[1][:, 0]
    rate = np.bincount(kept, minlength=len(vocab)) / (3 * vocab.counts.clip(1))
    keep = vocab.keep_probabilities(1e-2)
    # a centre word appears once per kept occurrence (CBOW), unless its sentence shrank to it alone
    assert keep[1] < 0.5 and abs(rate[1] - keep[1]) < 0.05


def test_cbow_contexts_are_padded_windows():
    sentences = [["a", "b", "c"], ["d"], ["e", "f"]]
    vocab = Vocabulary.build(sentences, min_count=1)
    ids, sentence_ids = vocab.encode(sentences)
    contexts, candidates, _ = _batches(
        text.training_dataset(ids, sentence_ids, vocab, model="cbow", window=1, sample=0)
    )
    got = {vocab.words[t]: sorted(vocab.words[c] for c in row if c) for row, t in zip(contexts, candidates[:, 0])}
    assert got == {"a": ["b"], "b": ["a", "c"], "c": ["b"], "e": ["f"], "f": ["e"]}  # "d" has no context
    assert contexts.shape[1] == 2


def test_centres_are_shuffled_within_spans_in_corpus_order():
    sentences = [[f"p{10 * s + i:04d}" for i in range(10)] for s in range(300)]  # id - 1 = position
    vocab = Vocabulary.build(sentences, min_count=1)
    ids, sentence_ids = vocab.encode(sentences)
    centres, candidates, _ = _batches(
        text.training_dataset(ids, sentence_ids, vocab, window=1, sample=0, batch_size=64, shuffle_span=100)
    )
    span = (centres - 1) // 100
    assert np.all(np.diff(span) >= 0) and set(span) == set(range(30))  # spans in order, none lost
    for k in range(30):
        inside = span == k
        offsets = candidates[inside, 0] - centres[inside]
        assert set(offsets) == {-1, 1} and np.all(np.diff(offsets) >= 0)  # offset by offset
        first = centres[inside][offsets == -1]
        assert set(first) == set(range(100 * k + 1, 100 * k + 101)) - set(range(1, 3001, 10))
        assert not np.all(np.diff(first) > 0)  # shuffled within the span
    whole = _batches(text.training_dataset(ids, sentence_ids, vocab, window=1, sample=0, shuffle_span=10**6))[0]
    assert not np.all(np.diff((whole - 1) // 100) >= 0)  # a span longer than the corpus: all shuffled
