"""The speech app's training options, as written to a run's config.json."""

from dataclasses import dataclass

from seqgraph.apps.common import require, require_positive

# The options that shape the network (build_model's keyword arguments).
MODEL_OPTIONS = ("mels", "dim", "blocks", "heads", "window", "ffn_dim", "lstm_units", "dropout")


@dataclass
class SpeechConfig:
    """What ``seqgraph speech train`` trains; ``train --config RUN/config.json`` replays it.

    Args:
        data_dir: a Free Spoken Digit Dataset folder; None: digits spoken by eSpeak NG (embedded).
        synthetic_takes: eSpeak NG takes per digit.
        utterances: connected-digit training utterances made from the isolated digits.
        valid_utterances: held-out utterances scored after each epoch.
        epochs: passes over the training utterances.
        batch_size: utterances per batch.
        lr: AdamW's peak learning rate, after a 5% warmup, then cosine to 0.
        mels: log-mel bands.
        dim: features of the attention blocks.
        blocks: self-attention blocks.
        heads: attention heads.
        window: attention radius in 40 ms steps (None: full attention).
        ffn_dim: hidden units of each block's feed-forward layer.
        lstm_units: units of the peephole LSTM in each direction.
        dropout: dropout rate.
        seed: utterances, initial weights and batch order.
    """

    data_dir: str = None
    synthetic_takes: int = 20
    utterances: int = 3000
    valid_utterances: int = 200
    epochs: int = 30
    batch_size: int = 32
    lr: float = 2e-3
    mels: int = 40
    dim: int = 96
    blocks: int = 2
    heads: int = 4
    window: int = 8
    ffn_dim: int = 192
    lstm_units: int = 96
    dropout: float = 0.1
    seed: int = 0

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
