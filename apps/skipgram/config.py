"""The skip-gram app's training options, as written to a run's config.json."""

from dataclasses import dataclass

from seqgraph.apps.common import option, require, require_positive
from seqgraph.datasets.text import ENCODING_ERRORS, FORMATS, SHUFFLE_SPAN


@dataclass
class SkipgramConfig:
    """What ``seqgraph skipgram train`` trains (each field is an option, with its help);
    ``train --config RUN_DIR/config.json`` replays it."""

    corpus: str = option(
        None,
        "a text file or folder, a one-sentence-per-line file, NLTK's Brown zip or folder, or a "
        "text8-style file (default: gensim's Lee corpus)",
    )
    format: str = option("auto", "the corpus format", choices=("auto",) + FORMATS)
    encoding: str = option("utf-8", "the corpus files' text encoding (latin-1, cp1252, ...)")
    encoding_errors: str = option(
        "strict", "bytes the encoding does not allow: an error, or replaced, or dropped", choices=ENCODING_ERRORS
    )
    lowercase: bool = option(True, "keep the tokens' case")
    tokenizer: str = option(
        "words", "words: runs of letters and digits; whitespace: split on spaces", choices=("words", "whitespace")
    )
    model: str = option("skipgram", "the network", choices=("skipgram", "cbow"))
    dim: int = option(100, "vector size")
    window: int = option(5, "the largest context window (1..WINDOW drawn per word)")
    negative: int = option(5, "negative words per example")
    min_count: int = option(5, "drop words seen fewer times")
    max_vocab: int = option(None, "keep at most this many words (the most frequent)")
    sample: float = option(1e-3, "subsampling threshold of frequent words (0: off)")
    epochs: int = option(5, "passes over the corpus")
    batch_size: int = option(1024, "examples per SGD step (their steps summed)")
    shuffle_span: int = option(
        SHUFFLE_SPAN,
        "centre words are shuffled within spans of this many subsampled tokens, "
        "spans in corpus order, as word2vec reads a corpus (1: no shuffling)",
    )
    lr: float = option(0.025, "SGD step per example, falling linearly to --min-lr")
    min_lr: float = option(0.0001, "the last SGD step")
    seed: int = option(0, "subsampling, windows, negatives and initial vectors")

    def __post_init__(self):
        require(self.model in ("skipgram", "cbow"), "model", f"must be skipgram or cbow, got {self.model!r}")
        require(self.format in ("auto",) + FORMATS, "format", f"cannot be {self.format!r}")
        require(self.tokenizer in ("words", "whitespace"), "tokenizer", f"cannot be {self.tokenizer!r}")
        require_positive(
            self, "dim", "window", "negative", "min_count", "max_vocab", "epochs", "batch_size", "shuffle_span"
        )
        require(self.sample >= 0, "sample", f"must be >= 0, got {self.sample}")
        require(self.encoding_errors in ENCODING_ERRORS, "encoding_errors", f"cannot be {self.encoding_errors!r}")
