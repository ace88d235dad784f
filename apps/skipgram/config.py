"""The skip-gram app's training options, as written to a run's config.json."""

from dataclasses import dataclass

from seqgraph.apps.common import require, require_positive
from seqgraph.datasets.text import FORMATS, SHUFFLE_SPAN


@dataclass
class SkipgramConfig:
    """What ``seqgraph skipgram train`` trains; ``train --config RUN/config.json`` replays it.

    Args:
        corpus: a text file or folder, a one-sentence-per-line file, NLTK's Brown zip or folder,
            or a text8-style file; None: gensim's Lee corpus (embedded).
        format: ``auto`` (guessed), ``text``, ``lines``, ``brown`` or ``text8``.
        lowercase: lower-case the tokens.
        tokenizer: ``words`` (runs of letters and digits) or ``whitespace``.
        model: ``skipgram`` or ``cbow``.
        dim: vector size.
        window: the largest window (a window of 1..window is drawn per centre word).
        negative: negative words per example.
        min_count: words seen fewer times are dropped.
        max_vocab: keep at most this many words (the most frequent).
        sample: the subsampling threshold of frequent words (0: off).
        epochs: passes over the corpus.
        batch_size: examples per SGD step (their steps are summed, as word2vec's).
        shuffle_span: centre words are shuffled within spans of this many subsampled tokens.
        lr: the SGD step per example, falling linearly to ``min_lr``.
        min_lr: the last step size.
        seed: subsampling, windows, negatives and the initial vectors.
    """

    corpus: str = None
    format: str = "auto"
    lowercase: bool = True
    tokenizer: str = "words"
    model: str = "skipgram"
    dim: int = 100
    window: int = 5
    negative: int = 5
    min_count: int = 5
    max_vocab: int = None
    sample: float = 1e-3
    epochs: int = 5
    batch_size: int = 1024
    shuffle_span: int = SHUFFLE_SPAN
    lr: float = 0.025
    min_lr: float = 0.0001
    seed: int = 0

    def __post_init__(self):
        require(self.model in ("skipgram", "cbow"), "model", f"must be skipgram or cbow, got {self.model!r}")
        require(self.format in ("auto",) + FORMATS, "format", f"cannot be {self.format!r}")
        require(self.tokenizer in ("words", "whitespace"), "tokenizer", f"cannot be {self.tokenizer!r}")
        require_positive(
            self, "dim", "window", "negative", "min_count", "max_vocab", "epochs", "batch_size", "shuffle_span"
        )
        require(self.sample >= 0, "sample", f"must be >= 0, got {self.sample}")
