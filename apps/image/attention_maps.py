"""``seqgraph image attention-maps``: where the attention of a vit or hybrid run looks."""

from pathlib import Path

import keras
import numpy as np

from seqgraph.apps.common import ConfigError, load_model, pyplot, run_config, save_figure
from seqgraph.apps.image.config import ImageConfig
from seqgraph.apps.image.evaluate import run_data
from seqgraph.apps.image.model import build_model


def rollout(weights):
    """Attention rollout (Abnar & Zuidema 2020) from per-block weights ``[B, heads, T, T]``: heads
    averaged, the residual added as 0.5 I, rows renormalised, blocks multiplied -> ``[B, T, T]``,
    how much each output position draws on each input position."""
    result = None
    for w in weights:
        a = w.mean(1)
        a = 0.5 * a + 0.5 * np.eye(a.shape[-1])
        a = a / a.sum(-1, keepdims=True)
        result = a if result is None else a @ result
    return result


def attention_maps(run, data_dir=None, count=8):
    """Attention rollout maps of ``count`` test images under a vit or hybrid run, with the true
    and predicted classes: ``run/attention_maps.png``. Returns its path."""
    config, facts = run_config(ImageConfig, run, "image")
    if config.model == "cnn":
        raise ConfigError(f"{run}: attention-maps needs a vit or hybrid run (a cnn has no attention)")
    model = load_model(run)
    dataset, _, test_idx = run_data(config, facts, data_dir)
    with_attention = build_model(
        config.model, dataset.shape, dataset.num_classes, attention_outputs=True, **config.model_options()
    )
    with_attention.set_weights(model.get_weights())
    chosen = test_idx[:: max(1, len(test_idx) // count)][:count]
    outputs = with_attention(dataset.images[chosen].astype(np.float32), training=False)
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(outputs["logits"]))
    flow = rollout([keras.ops.convert_to_numpy(outputs[f"attention_{i}"]) for i in range(config.depth)])
    if config.pooling == "class":  # the class token's row, over the patches
        relevance = flow[:, 0, 1:]
    else:  # mean pooling reads every position equally
        relevance = flow.mean(1)
    h, w = dataset.shape[:2]
    side = int(round(np.sqrt(relevance.shape[-1] * w / h)))  # grid columns
    grid = relevance.reshape(len(chosen), -1, side)

    plt = pyplot()
    fig, axes = plt.subplots(2, len(chosen), figsize=(1.6 * len(chosen), 3.4), squeeze=False)
    for k, index in enumerate(chosen):
        image = dataset.images[index]
        cmap = "gray" if image.shape[-1] == 1 else None
        axes[0, k].imshow(image.squeeze(-1) if cmap else image, cmap=cmap)
        name = facts["class_names"]
        axes[0, k].set_title(f"{name[dataset.labels[index]]} -> {name[probabilities[k].argmax()]}", fontsize=9)
        axes[1, k].imshow(image.squeeze(-1) if cmap else image, cmap=cmap)
        axes[1, k].imshow(grid[k], cmap="inferno", alpha=0.6, extent=(-0.5, w - 0.5, h - 0.5, -0.5))
        for ax in axes[:, k]:
            ax.axis("off")
    fig.suptitle(f"attention rollout ({config.model}, {config.depth} blocks): true -> predicted", fontsize=10)
    path = Path(run) / "attention_maps.png"
    save_figure(fig, path)
    print(f"wrote {path} ({len(chosen)} test images)")
    return path
