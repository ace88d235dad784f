"""The speech app's training options, as written to a run's config.json."""

from dataclasses import dataclass

from seqgraph.apps.common import option, require, require_positive

# The options that shape the network (build_model's keyword arguments).
MODEL_OPTIONS = ("mels", "dim", "blocks", "heads", "window", "ffn_dim", "lstm_units", "dropout", "spec_augment")


@dataclass
class SpeechConfig:
    """What ``seqgraph speech train`` trains (each field is an option, with its help);
    ``train --config RUN_DIR/config.json`` replays it."""

    data_dir: str = option(None, "a Free Spoken Digit Dataset folder (default: eSpeak NG digits, embedded)")
    synthetic_takes: int = option(20, "eSpeak NG takes per digit")
    utterances: int = option(3000, "connected-digit training utterances")
    valid_utterances: int = option(200, "held-out utterances scored after each epoch")
    epochs: int = option(30, "passes over the training utterances")
    batch_size: int = option(32, "utterances per batch")
    lr: float = option(2e-3, "AdamW's peak learning rate (5%% warmup, cosine to 0)")
    mels: int = option(40, "log-mel bands")
    dim: int = option(96, "features of the attention blocks")
    blocks: int = option(2, "self-attention blocks")
    heads: int = option(4, "attention heads")
    window: int = option(8, "attention radius in 40 ms steps (0: full attention)")
    ffn_dim: int = option(192, "hidden units of each block's feed-forward layer")
    lstm_units: int = option(96, "peephole LSTM units in each direction")
    dropout: float = option(0.1, "dropout rate")
    spec_augment: bool = option(True, "no SpecAugment (random time and frequency masks on the training features)")
    seed: int = option(0, "utterances, initial weights and batch order")

    def __post_init__(self):
        if self.window == 0:
            self.window = None  # --window 0: full attention
        require_positive(
            self,
            "synthetic_takes",
            "utterances",
            "valid_utterances",
            "epochs",
            "batch_size",
            "mels",
            "dim",
            "blocks",
            "heads",
            "ffn_dim",
            "lstm_units",
        )
        require(self.dim % self.heads == 0, "dim", f"must be a multiple of --heads ({self.heads}), got {self.dim}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")

    def model_options(self):
        """build_model's keyword arguments."""
        return {name: getattr(self, name) for name in MODEL_OPTIONS}
