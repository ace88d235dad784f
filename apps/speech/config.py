"""The speech app's training options, as written to a run's config.json."""

from dataclasses import dataclass

from seqgraph.apps.common import option, require, require_positive

# The options that shape the network (build_model's keyword arguments).
MODEL_OPTIONS = (
    "sample_rate",
    "mels",
    "dim",
    "blocks",
    "heads",
    "window",
    "ffn_dim",
    "lstm_units",
    "dropout",
    "spec_augment",
    "vtlp",
    "utterance_norm",
)


@dataclass
class SpeechConfig:
    """What ``seqgraph speech train`` trains (each field is an option, with its help);
    ``train --config RUN_DIR/config.json`` replays it."""

    manifest: str = option(
        None,
        "a training corpus: NeMo JSON lines (.json/.jsonl), a LibriSpeech folder, a Common Voice .tsv, or a "
        ".csv/.tsv of path, transcript (default: connected digits)",
    )
    valid_manifest: str = option(
        None, "the held-out corpus, in any of those formats (default: --valid-utterances held out of --manifest)"
    )
    data_dir: str = option(None, "a Free Spoken Digit Dataset folder (default: eSpeak NG digits, embedded)")
    test_speaker: str = option(
        None, "hold out this speaker's recordings (all takes) instead of takes 0-4 (FSDD: jackson, nicolas, ...)"
    )
    synthetic_takes: int = option(20, "eSpeak NG takes per digit")
    utterances: int = option(3000, "connected-digit training utterances")
    espeak_utterances: int = option(
        0, "with --data-dir: add this many connected-digit utterances spoken by eSpeak NG's voices to the training"
    )
    valid_utterances: int = option(200, "held-out utterances scored after each epoch")
    sample_rate: int = option(
        8000, "the model's sample rate: audio is resampled to it (8000 for the digit models, 16000 for speech corpora)"
    )
    max_seconds: float = option(20.0, "utterances longer than this are left out of training (and counted)")
    skip_bad: bool = option(False, "leave out bad manifest lines and unreadable audio (counted) instead of stopping")
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
    utterance_norm: bool = option(
        False, "subtract each utterance's mean log-mel feature per band (cepstral mean normalisation: the channel)"
    )
    vtlp: bool = option(
        False, "warp each training utterance's frequency axis by 0.9-1.1 (vocal tract length perturbation)"
    )
    speed_perturbation: bool = option(False, "play each training utterance at 0.9, 1.0 or 1.1 x speed (pitch too)")
    reverb: bool = option(False, "put each training utterance in a synthetic room (RT60 0.2-0.7 s)")
    noise: bool = option(False, "add white noise to each training utterance (SNR 10-30 dB)")
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
        require(self.sample_rate >= 8000, "sample_rate", f"must be at least 8000 Hz, got {self.sample_rate}")
        require(self.sample_rate % 100 == 0, "sample_rate", f"must be a multiple of 100 Hz, got {self.sample_rate}")
        require(self.max_seconds > 0, "max_seconds", f"must be positive, got {self.max_seconds}")
        require(not (self.manifest and self.data_dir), "manifest", "and --data-dir name two corpora: give one of them")
        require(
            not (self.valid_manifest and not self.manifest), "valid_manifest", "needs --manifest (the training corpus)"
        )
        require(self.espeak_utterances >= 0, "espeak_utterances", f"must be 0 or more, got {self.espeak_utterances}")
        require(
            not self.espeak_utterances or self.data_dir,
            "espeak_utterances",
            "adds eSpeak NG digits to --data-dir's recordings: without --data-dir they are the corpus already",
        )
        require(not (self.test_speaker and self.manifest), "test_speaker", "is for the digit corpora, not --manifest")
        require(self.dim % self.heads == 0, "dim", f"must be a multiple of --heads ({self.heads}), got {self.dim}")
        require(0 <= self.dropout < 1, "dropout", f"must be in [0, 1), got {self.dropout}")

    def augmentation(self):
        """The training audio's ``datasets.speech.Augmentation``."""
        from seqgraph.datasets.speech import Augmentation

        return Augmentation(
            speeds=(0.9, 1.0, 1.1) if self.speed_perturbation else (),
            reverb=self.reverb,
            noise_snr=(10.0, 30.0) if self.noise else (),
        )

    def model_options(self):
        """build_model's keyword arguments."""
        return {name: getattr(self, name) for name in MODEL_OPTIONS}
