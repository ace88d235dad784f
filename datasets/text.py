"""Text corpora for word embeddings: readers, a vocabulary, and a tf.data pipeline that makes
skip-gram / CBOW training examples with TF ops (Mikolov et al. 2013's subsampling, dynamic
window and unigram^0.75 negatives), so the input pipeline does not bound training speed.

    sentences = read_corpus("brown.zip")                 # [["the", "fulton", ...], ...]
    vocab = Vocabulary.build(sentences, min_count=5)
    ids, sentence_ids = vocab.encode(sentences)
    ds = training_dataset(ids, sentence_ids, vocab, window=5, negative=5, seed=0)
"""

import dataclasses
import os
import re
import zipfile
from pathlib import Path

import numpy as np

from seqgraph.datasets import DataError, zip_errors

FORMATS = ("text", "lines", "brown", "text8")
# Training shuffles the centre words within spans of this many (subsampled) tokens, spans in corpus
# order; a 1024-pair batch then mixes ~900 sentences of Brown. See ``training_dataset``.
SHUFFLE_SPAN = 65536
PAD = "<pad>"  # id 0: padding of CBOW context windows, and the id of unknown words in lookups
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n\s*\n")
_BROWN_FILE = re.compile(r"c[a-r]\d\d$")
TEXT8_CHUNK = 10_000  # tokens per "sentence" of a text8-style file, as gensim's Text8Corpus


class CorpusError(DataError):
    """A corpus file that cannot be read; the message names the file (and byte offset)."""


def tokenize(text, lowercase=True, tokenizer="words"):
    """``words``: runs of letters/digits with inner apostrophes; ``whitespace``: split()."""
    if lowercase:
        text = text.lower()
    return _WORD.findall(text) if tokenizer == "words" else text.split()


ENCODING_ERRORS = ("strict", "replace", "ignore")


def _decode(data, name, encoding="utf-8", errors="strict"):
    try:
        return data.decode(encoding, errors)
    except UnicodeDecodeError as e:
        raise CorpusError(
            f"{name}: not {encoding} at byte offset {e.start} ({data[e.start : e.start + 4]!r}); give the corpus's "
            "--encoding (latin-1, cp1252, ...) or --encoding-errors replace"
        ) from None
    except LookupError:
        raise CorpusError(f"--encoding {encoding}: no such text encoding") from None


def _files(path, fmt):
    """(name, bytes) of the corpus files at ``path``: a file, a folder (recursive, sorted, hidden
    files skipped) or a zip; Brown keeps only its text files (ca01 ... cr09)."""
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"{path}: no such file or folder")
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                names = sorted(n for n in z.namelist() if not n.endswith("/"))
                if fmt == "brown":
                    names = [n for n in names if _BROWN_FILE.search(n)]
                for name in names:
                    yield f"{path}:{name}", z.read(name)
        except zip_errors() as e:
            raise CorpusError(f"{path}: not a readable zip file ({e})") from None
        return
    files = (
        [path]
        if path.is_file()
        else sorted(p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.parts))
    )
    if fmt == "brown":
        files = [p for p in files if _BROWN_FILE.search(p.name)]
    for file in files:
        yield str(file), file.read_bytes()


def guess_format(path):
    """brown for a zip or folder holding Brown's files (ca01 ... cr09), text8 for one long line,
    else text."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as z:
                return "brown" if any(_BROWN_FILE.search(n) for n in z.namelist()) else "text"
        except zip_errors():
            return "text"  # reading it says what is wrong
    if path.is_dir() and any(_BROWN_FILE.search(p.name) for p in path.rglob("c*")):
        return "brown"
    if path.is_file():
        with open(path, "rb") as f:
            head = f.read(1 << 20)
        if len(head) > 100_000 and b"\n" not in head.rstrip(b"\n"):
            return "text8"
    return "text"


def embedded_corpus():
    """The Lee background corpus (314 news stories, ~60k tokens) that ships in gensim's tests:
    the default corpus, no download needed."""
    from gensim.test.utils import datapath

    return Path(datapath("lee_background.cor"))


def read_corpus(path, fmt="auto", lowercase=True, tokenizer="words", encoding="utf-8", errors="strict"):
    """Sentences (lists of tokens) of a corpus.

    ``text``: free text, sentences end at . ! ? or a blank line; ``lines``: one sentence per
    line; ``brown``: NLTK's Brown distribution (``word/TAG`` tokens, tags and punctuation
    dropped); ``text8``: one line of space-separated words, cut into 10,000-token pieces. Files
    are decoded with ``encoding``; ``errors`` (``strict``, ``replace``, ``ignore``) says what
    to do with bytes it does not allow.
    """
    fmt = guess_format(path) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise ValueError(f"corpus format must be one of {FORMATS} or 'auto', got {fmt!r}")
    sentences, files = [], []
    for name, data in _files(path, fmt):
        files.append(name)
        text = _decode(data, name, encoding, errors)
        if fmt == "text8":
            words = tokenize(text, lowercase, tokenizer)
            sentences += [words[i : i + TEXT8_CHUNK] for i in range(0, len(words), TEXT8_CHUNK)]
            continue
        if fmt == "brown":
            text = "\n".join(" ".join(token.rsplit("/", 1)[0] for token in line.split()) for line in text.splitlines())
        pieces = _SENTENCE_END.split(text) if fmt == "text" else text.splitlines()
        sentences += [s for s in (tokenize(p, lowercase, tokenizer) for p in pieces) if s]
    if not sentences:
        read = f"{len(files)} file(s) read, the first {files[0]}" if files else "no files read"
        hint = "; not Brown's distribution? give --format text" if fmt == "brown" else ""
        raise CorpusError(f"{path}: no words found (format {fmt!r}: {read}){hint}")
    return sentences


@dataclasses.dataclass
class Vocabulary:
    """Words by decreasing count; id 0 is ``PAD`` (count 0), real words start at 1."""

    words: list
    counts: np.ndarray

    def __post_init__(self):
        self.counts = np.asarray(self.counts, dtype=np.int64)
        self.index = {word: i for i, word in enumerate(self.words)}

    @classmethod
    def build(cls, sentences, min_count=5, max_vocab=None):
        from collections import Counter

        counter = Counter(word for sentence in sentences for word in sentence)
        # ties broken alphabetically, so the ids do not depend on the order of the corpus
        kept = sorted(((c, w) for w, c in counter.items() if c >= min_count), key=lambda cw: (-cw[0], cw[1]))
        if max_vocab is not None:
            kept = kept[:max_vocab]
        if not kept:
            raise CorpusError(f"no word occurs at least min_count={min_count} times")
        return cls([PAD] + [w for _, w in kept], [0] + [c for c, _ in kept])

    def __len__(self):
        return len(self.words)

    def encode(self, sentences):
        """Ids of known words (unknown ones are dropped, as word2vec does) and, per token, the
        number of its sentence: two int32 arrays of equal length."""
        ids, sentence_ids = [], []
        for number, sentence in enumerate(sentences):
            known = [self.index[w] for w in sentence if w in self.index]
            ids += known
            sentence_ids += [number] * len(known)
        return np.array(ids, np.int32), np.array(sentence_ids, np.int32)

    def keep_probabilities(self, sample=1e-3):
        """Probability of keeping each occurrence of a word (word2vec.c's subsampling formula:
        (sqrt(f / (s T)) + 1) s T / f for a word seen f times in T tokens); 1 when sample=0."""
        if not sample:
            return np.ones(len(self), np.float32)
        threshold = sample * self.counts.sum()
        counts = np.maximum(self.counts, 1)
        return np.minimum((np.sqrt(counts / threshold) + 1) * threshold / counts, 1.0).astype(np.float32)

    def negative_cdf(self, power=0.75):
        """Cumulative distribution of count^power over the ids (PAD has probability 0)."""
        weights = self.counts.astype(np.float64) ** power
        return np.cumsum(weights / weights.sum())

    def negative_alias(self, power=0.75):
        """``(accept, alias)``: Walker's alias table of count^power (Vose's construction), to draw
        an id in constant time: pick a column j uniformly, keep j with probability accept[j],
        else take alias[j]. A binary search of ``negative_cdf`` per draw took 3/4 of the input
        pipeline's time on Brown."""
        weights = self.counts.astype(np.float64) ** power
        scaled = weights * (len(weights) / weights.sum())
        accept, alias = np.ones(len(weights)), np.arange(len(weights))
        small, large = [i for i, w in enumerate(scaled) if w < 1], [i for i, w in enumerate(scaled) if w >= 1]
        while small and large:
            low, high = small.pop(), large.pop()
            accept[low], alias[low] = scaled[low], high
            scaled[high] -= 1 - scaled[low]
            (small if scaled[high] < 1 else large).append(high)
        return accept.astype(np.float32), alias.astype(np.int32)  # columns left over keep themselves

    def save(self, path):
        """``word<TAB>count`` per line, in id order."""
        path = Path(path)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text("".join(f"{w}\t{c}\n" for w, c in zip(self.words, self.counts)), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path):
        words, counts = [], []
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            word, _, count = line.rpartition("\t")
            if not word or not count.isdigit():
                raise CorpusError(f"{path}, line {number}: expected 'word<TAB>count', got {line!r}")
            words.append(word)
            counts.append(int(count))
        return cls(words, counts)


def training_dataset(
    ids,
    sentence_ids,
    vocab,
    model="skipgram",
    window=5,
    negative=5,
    sample=1e-3,
    batch_size=1024,
    seed=0,
    shuffle_span=SHUFFLE_SPAN,
    chunk_tokens=1 << 20,
    batches_per_call=1,
):
    """``(dataset, calls_per_pass)``: an endless ``tf.data.Dataset`` of calls, each
    ``batches_per_call`` batches ``((inputs [S, B, ...], candidates [S, B, 1 + negative]),
    tokens [S])``, pass after pass over the corpus, each pass a new draw (the same seed gives the
    same passes), and the number of calls in the first pass (for ``fit(steps_per_epoch=...)``: the
    passes differ in size by a few examples only). A trainer runs a call's batches one after the
    other (in one XLA loop: tf.data hands over a call in one piece, not batch by batch).

    Each pass subsamples frequent words, draws a window size b in 1..window per centre word
    (nearer words are used more often) and pairs each centre with the words within b of it in the
    same sentence. The centres are shuffled within spans of ``shuffle_span`` kept tokens, and the
    spans follow the corpus: word2vec reads a corpus in order, and on Brown that order is worth
    ~0.025 of SimLex-999 (bench/README.md), while within a span a batch mixes ~900 sentences, so
    its summed steps do not pile up on the words of one text. Skip-gram pairs then go offset by
    offset within each span, so a batch holds ~batch_size different centres.
    A batch's ``inputs`` is the centre id ``[B]`` (skip-gram) or its
    context ids ``[B, 2 * window]`` padded with 0 (CBOW); ``candidates [B, 1 + negative]`` holds
    the true word in column 0 and ids drawn from count^0.75; ``tokens`` is the number of corpus
    tokens the batch stands for (they add up to ``len(ids)`` per pass: for learning-rate decay
    and words/s). Every call has one shape: the last batch of each chunk is padded with examples
    whose ids are all 0 (PAD, never a true word), which trainers must leave out, and the last
    call of each chunk with batches of them only, after its real batches.
    Everything runs in TF ops, a chunk of ``chunk_tokens`` tokens at a time, the next chunk made
    while the batches of the current one are consumed.
    """
    import tensorflow as tf

    if model not in ("skipgram", "cbow"):
        raise ValueError(f"model must be 'skipgram' or 'cbow', got {model!r}")
    if window < 1 or negative < 1:
        raise ValueError(f"window and negative must be at least 1, got {window} and {negative}")
    n = len(ids)
    chunks = max(1, -(-n // chunk_tokens))
    ids_t, sentences_t = tf.constant(ids, tf.int32), tf.constant(sentence_ids, tf.int32)
    keep_t = tf.constant(vocab.keep_probabilities(sample))
    accept, alias = vocab.negative_alias()
    accept_t, alias_t = tf.constant(accept), tf.constant(alias)
    offsets = tf.constant([d for d in range(-window, window + 1) if d], tf.int32)

    def chunk_pairs(pass_seed, chunk):
        """The draws of one chunk of one pass: its seeds, kept words, tokens, centre order, and
        which of the 2 * window positions around each centre are its context."""
        seeds = tf.random.experimental.stateless_split(tf.stack([pass_seed, chunk]), 5)
        start = tf.cast(chunk, tf.int32) * chunk_tokens
        words = ids_t[start : start + chunk_tokens]
        sentence = sentences_t[start : start + chunk_tokens]
        tokens = tf.cast(tf.shape(words)[0], tf.float32)
        kept = tf.random.stateless_uniform(tf.shape(words), seeds[0]) < tf.gather(keep_t, words)
        words, sentence = words[kept], sentence[kept]
        size = tf.shape(words)[0]
        span = tf.clip_by_value(shuffle_span, 1, tf.maximum(size, 1))
        spans = -(-size // span)
        # sorted by (span, uniform draw): shuffled within spans, spans in corpus order
        keys = tf.cast(tf.range(size) // span, tf.float64) + tf.random.stateless_uniform(
            [size], seeds[1], dtype=tf.float64
        )
        order = tf.argsort(keys)
        reach = tf.random.stateless_uniform([size], seeds[2], 1, window + 1, tf.int32)
        other = order[:, None] + offsets  # [size, 2 * window] positions around each centre
        inside = (other >= 0) & (other < size)
        other = tf.clip_by_value(other, 0, tf.maximum(size - 1, 0))
        valid = (
            inside
            & (abs(offsets) <= reach[:, None])
            & (tf.gather(sentence, other) == tf.gather(sentence, order)[:, None])
        )
        return seeds, words, tokens, size, span, spans, order, other, valid

    def chunk_examples(valid):
        return tf.reduce_sum(tf.cast(valid if model == "skipgram" else tf.reduce_any(valid, axis=1), tf.int32))

    def chunk_calls(examples):
        batches = -(-examples // batch_size)  # ceiling divisions
        return -(-batches // batches_per_call)

    def chunk_batches(pass_seed, chunk):
        """One chunk of one pass as its n calls: ``((inputs [n, S, B, ...], candidates [n, S, B, 1 + negative]),
        tokens [n, S])``."""
        seeds, words, tokens, size, span, spans, order, other, valid = chunk_pairs(pass_seed, chunk)
        centre = tf.gather(words, order)
        if model == "skipgram":

            def span_by_offset(x):  # [size, 2 * window] -> [spans, 2 * window, span], padded rows invalid
                x = tf.pad(x, [[0, spans * span - size], [0, 0]])
                return tf.transpose(tf.reshape(x, [spans, span, 2 * window]), [0, 2, 1])

            by_offset = span_by_offset(valid)
            inputs = span_by_offset(tf.broadcast_to(centre[:, None], tf.shape(other)))[by_offset]
            truth = span_by_offset(tf.gather(words, other))[by_offset]
        else:
            contexts = tf.where(valid, tf.gather(words, other), 0)
            has_context = tf.reduce_any(valid, axis=1)
            inputs, truth = contexts[has_context], centre[has_context]
        count = tf.shape(truth)[0]  # = chunk_examples(valid)
        column = tf.random.stateless_uniform([count * negative], seeds[3], 0, len(vocab), tf.int32)
        own = tf.random.stateless_uniform([count * negative], seeds[4]) < tf.gather(accept_t, column)
        negatives = tf.where(own, column, tf.gather(alias_t, column))
        candidates = tf.concat([truth[:, None], tf.reshape(negatives, [-1, negative])], 1)
        # whole calls by reshaping, padded with examples of id 0 (PAD): every call has one shape
        # (the XLA step compiles once, not once per pass) and tf.data only slices
        calls = chunk_calls(count)
        shape = [calls, batches_per_call, batch_size]

        def batched(x):
            x = tf.pad(x, [[0, calls * batches_per_call * batch_size - count]] + [[0, 0]] * (len(x.shape) - 1))
            return tf.reshape(x, tf.concat([shape, tf.shape(x)[1:]], 0))

        real = tf.clip_by_value(count - tf.range(calls * batches_per_call) * batch_size, 0, batch_size)
        per_example = tokens / tf.cast(tf.maximum(count, 1), tf.float32)
        return (batched(inputs), batched(candidates)), tf.reshape(tf.cast(real, tf.float32) * per_example, shape[:2])

    def passes(count=None):
        seeds = tf.data.Dataset.random(seed=seed)
        seeds = seeds.take(count) if count else seeds
        return seeds.flat_map(lambda s: tf.data.Dataset.range(chunks).map(lambda c: (s, c)))

    # counted from the first pass's draws without making its examples and negatives (~5x faster)
    calls_per_pass = int(
        passes(1)
        .map(lambda s, c: chunk_calls(chunk_examples(chunk_pairs(s, c)[-1])))
        .reduce(0, lambda total, calls: total + calls)
    )
    options = tf.data.Options()  # one thread makes the batches, the training step has the rest
    options.threading.max_intra_op_parallelism = 1
    options.threading.private_threadpool_size = 1
    # the next chunk is made while the calls of this one train (a pass of Brown is one chunk)
    dataset = (
        passes()
        .map(chunk_batches)
        .prefetch(1)
        .flat_map(lambda *b: tf.data.Dataset.from_tensor_slices(b))
        .prefetch(tf.data.AUTOTUNE)
        .with_options(options)
    )
    return dataset, calls_per_pass
