"""The image app's training options, as written to a run's config.json."""

from dataclasses import dataclass

from seqgraph.apps.common import option, require, require_positive

MODELS = ("vit", "hybrid", "cnn")
# The options that shape the network (build_model's keyword arguments).
MODEL_OPTIONS = ("patch_size", "dim", "depth", "heads", "mlp_dim", "dropout", "positional", "pooling")


@dataclass
class ImageConfig:
    """What ``seqgraph image train`` trains (each field is an option, with its help);
    ``train --config RUN_DIR/config.json`` replays it."""

    dataset: str = option("digits", "digits (embedded, 8x8), mnist, fashion_mnist or cifar10 (downloaded)")
    data_dir: str = option(None, "a folder of class subfolders of PNG/JPEG images (instead of --dataset)")
    size: list = option(None, "resize the folder's images to H x W", type=int, nargs=2, metavar=("H", "W"))
    test_fraction: float = option(0.2, "share of images held out")
    split_seed: int = option(0, "seed of the stratified train/test split")
    model: str = option(
        "vit", "vit: patches (or pixels) as tokens; hybrid: a two-convolution stem, then attention; cnn", choices=MODELS
    )
    epochs: int = option(150, "passes over the training split")
    batch_size: int = option(64, "images per batch")
    lr: float = option(2e-3, "AdamW's peak learning rate (5%% warmup, cosine to 0)")
    weight_decay: float = option(0.05, "AdamW's weight decay")
    augment: bool = option(True, "no random shifts")
    patch_size: int = option(1, "the vit's patch side (1: every pixel is a token); the hybrid stem's stride")
    dim: int = option(64, "token features")
    depth: int = option(4, "self-attention blocks")
    heads: int = option(4, "attention heads")
    mlp_dim: int = option(128, "hidden units of each block's MLP")
    dropout: float = option(0.1, "dropout rate on the attention weights")
    positional: str = option(
        "sinusoidal", "2-D sinusoidal or learned positional encoding", choices=("sinusoidal", "learned")
    )
    pooling: str = option("mean", "mean over tokens, or a class token", choices=("mean", "class"))
    seed: int = option(0, "initial weights, batch order and augmentation")

    def __post_init__(self):
        require(self.model in MODELS, "model", f"must be one of {', '.join(MODELS)}, got {self.model!r}")
        require_positive(self, "epochs", "batch_size", "patch_size", "dim", "depth", "heads", "mlp_dim")
        require(0 < self.test_fraction < 1, "test_fraction", f"must be in (0, 1), got {self.test_fraction}")
        require(self.dim % self.heads == 0, "dim", f"must be a multiple of --heads ({self.heads}), got {self.dim}")
        require(self.positional in ("sinusoidal", "learned"), "positional", f"cannot be {self.positional!r}")
        require(self.pooling in ("mean", "class"), "pooling", f"cannot be {self.pooling!r}")

    def model_options(self):
        """build_model's keyword arguments."""
        return {name: getattr(self, name) for name in MODEL_OPTIONS}
