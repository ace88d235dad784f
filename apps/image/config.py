"""The image app's training options, as written to a run's config.json."""

from dataclasses import dataclass

from seqgraph.apps.common import require, require_positive

MODELS = ("vit", "hybrid", "cnn")
# The options that shape the network (build_model's keyword arguments).
MODEL_OPTIONS = ("patch_size", "dim", "depth", "heads", "mlp_dim", "dropout", "positional", "pooling")


@dataclass
class ImageConfig:
    """What ``seqgraph image train`` trains; ``train --config RUN/config.json`` replays it.

    Args:
        dataset: ``digits`` (embedded), ``mnist``, ``fashion_mnist`` or ``cifar10``.
        data_dir: a folder of class subfolders of PNG/JPEG images (instead of ``dataset``).
        size: ``[H, W]`` to resize the folder's images to.
        test_fraction: the share of images held out (a stratified split).
        split_seed: the seed of that split.
        model: ``vit`` (patches or pixels as tokens), ``hybrid`` (a CNN stem, then attention) or ``cnn``.
        epochs: passes over the training split.
        batch_size: images per batch.
        lr: AdamW's peak learning rate, after a 5% warmup, then cosine to 0.
        weight_decay: AdamW's weight decay.
        augment: random shifts of up to an eighth of the image.
        patch_size: the vit's patch side (1: every pixel is a token); the hybrid's stem stride.
        dim: token features.
        depth: self-attention blocks.
        heads: attention heads.
        mlp_dim: hidden units of each block's MLP.
        dropout: dropout rate on the attention weights.
        positional: ``sinusoidal`` (2-D) or ``learned``.
        pooling: ``mean`` over tokens, or ``class`` (a class token).
        seed: initial weights, batch order and augmentation.
    """

    dataset: str = "digits"
    data_dir: str = None
    size: list = None
    test_fraction: float = 0.2
    split_seed: int = 0
    model: str = "vit"
    epochs: int = 150
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    augment: bool = True
    patch_size: int = 1
    dim: int = 64
    depth: int = 4
    heads: int = 4
    mlp_dim: int = 128
    dropout: float = 0.1
    positional: str = "sinusoidal"
    pooling: str = "mean"
    seed: int = 0

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
