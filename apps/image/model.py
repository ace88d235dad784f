"""The image classifiers: a vit (patches or pixels as tokens), a hybrid (a CNN stem, then
self-attention) and a CNN of similar size."""

import weakref

import keras
import numpy as np

from seqgraph import layers
from seqgraph.apps.image.config import MODELS


def build_model(
    kind,
    shape,
    num_classes,
    patch_size=1,
    dim=64,
    depth=4,
    heads=4,
    mlp_dim=128,
    dropout=0.1,
    positional="sinusoidal",
    pooling="mean",
    attention_outputs=False,
    attention=None,
    synchronized=False,
):
    """A classifier of float pixels 0..255 ``[batch, H, W, C]`` -> logits.

    vit: patches of ``patch_size`` (1 = pixels) embedded by one strided convolution, 2-D
    sinusoidal or learned positional encoding, ``depth`` pre-norm blocks of multi-head
    self-attention and a GELU MLP, mean pooling or a class token.
    hybrid: the same blocks over the feature-map positions of a two-convolution stem (the second
    strided by ``patch_size``).
    cnn: three 3x3 convolutions (32, 64, 128; batch norm, ReLU; a 2x2 max pool after the second),
    global average pooling and dropout 0.3; 95k weights on 8x8 digits against the vit's 135k.

    ``attention_outputs`` adds each block's attention weights ``[batch, heads, T, T]`` as outputs
    ``attention_<i>`` (for the rollout maps; same weights as the plain model). ``attention``
    replaces the self-attention layer class (the benchmark's peer: Keras' own layer).
    ``synchronized``: batch norm takes the statistics of all replicas under ``tf.distribute``.
    """
    inputs = keras.Input(shape, name="images")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)

    def conv_bn_relu(filters, strides=1, name=None):
        return [
            keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=name),
            keras.layers.BatchNormalization(synchronized=synchronized),
            keras.layers.ReLU(),
        ]

    if kind == "cnn":
        for layer in [
            *conv_bn_relu(32),
            *conv_bn_relu(64),
            keras.layers.MaxPooling2D(2, padding="same"),
            *conv_bn_relu(128),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dropout(0.3),
        ]:
            x = layer(x)
        return keras.Model(inputs, keras.layers.Dense(num_classes, name="logits")(x), name="cnn")
    if kind == "vit":
        x = keras.layers.Conv2D(dim, patch_size, strides=patch_size, name="patch_embedding")(x)
    elif kind == "hybrid":
        for layer in [*conv_bn_relu(32), *conv_bn_relu(dim, strides=patch_size)]:
            x = layer(x)
    else:
        raise ValueError(f"unknown model {kind!r}: expected one of {MODELS}")
    rows, cols = x.shape[1], x.shape[2]
    if positional == "sinusoidal":
        x = layers.SinusoidalPositionalEncoding2D(name="positional_encoding")(x)
    x = keras.layers.Reshape((rows * cols, dim), name="to_sequence")(x)
    if positional == "learned":
        x = layers.LearnedPositionalEmbedding(rows * cols, name="positional_encoding")(x)
    if pooling == "class":
        x = layers.ClassToken(name="class_token")(x)
    weights = {}
    for i in range(depth):
        h = keras.layers.LayerNormalization(epsilon=1e-6)(x)
        h = (attention or layers.MultiHeadSelfAttention)(heads, dim // heads, dropout=dropout, name=f"attention_{i}")(
            h, return_attention_scores=attention_outputs
        )
        if attention_outputs:
            h, weights[f"attention_{i}"] = h
        x = keras.layers.Add()([x, h])
        h = keras.layers.LayerNormalization(epsilon=1e-6)(x)
        h = keras.layers.Dense(mlp_dim, activation="gelu")(h)
        x = keras.layers.Add()([x, keras.layers.Dense(dim)(h)])
    x = keras.layers.LayerNormalization(epsilon=1e-6)(x)
    if pooling == "class":  # the class token's output: the first position
        x = keras.layers.Flatten()(keras.layers.Cropping1D((0, rows * cols), name="class_output")(x))
    else:
        x = keras.layers.GlobalAveragePooling1D()(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    outputs = {"logits": logits, **weights} if attention_outputs else logits
    return keras.Model(inputs, outputs, name=kind)


def compile_model(model, steps, lr=2e-3, weight_decay=0.05):
    """AdamW, learning rate warmed up linearly over the first 5% of ``steps``, then cosine to 0."""
    schedule = keras.optimizers.schedules.CosineDecay(0.0, steps, warmup_target=lr, warmup_steps=max(1, steps // 20))
    model.compile(
        keras.optimizers.AdamW(schedule, weight_decay=weight_decay),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )


_INFERENCE = weakref.WeakKeyDictionary()  # model -> its inference function, made once


def inference_function(model):
    """``images [N, H, W, C] (float) -> logits`` of ``model`` at inference, as one XLA-compiled TF
    function, made once per model and compiled once per batch shape (~0.5 s). Keras turns XLA off on machines without an
    accelerator; for the vit on this CPU it cuts the time per batch of 256 from ~55 to ~40 ms,
    since XLA fuses the layer norms' and GELUs' elementwise work (bench/image_training.py).

    Args:
        model: an image classifier from ``build_model``.

    Returns:
        A function of a float batch ``[N, H, W, C]`` (pixels 0..255) returning its logits.

    Example:

    >>> logits = inference_function(model)(images.astype("float32"))
    """
    import tensorflow as tf

    if model not in _INFERENCE:
        held = weakref.ref(model)  # the cache must not keep the model alive
        _INFERENCE[model] = tf.function(lambda images: held()(images, training=False), jit_compile=True)
    return _INFERENCE[model]


def class_probabilities(model, pixels, batch_size=256):
    """Softmax of ``model``'s logits on uint8 ``pixels [N, H, W, C]``, in batches, as NumPy."""
    logits = inference_function(model)
    return np.concatenate(
        [
            keras.ops.convert_to_numpy(keras.ops.softmax(logits(pixels[i : i + batch_size].astype(np.float32))))
            for i in range(0, len(pixels), batch_size)
        ]
    )
