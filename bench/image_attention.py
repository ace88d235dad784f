"""The image app's vit with our self-attention vs the same model built from
``keras.layers.MultiHeadAttention`` (same weights count, same everything else): training and
inference images/s, timed in alternation in one process. ratio = ours' time / peer's (<= 1 is good).

    python -m bench.image_attention [--repeats 10]
"""

import argparse

TRAIN_BATCH, INFER_BATCH, STEPS = 64, 256, 5


def keras_self_attention():
    """``keras.layers.MultiHeadAttention`` called as self-attention, with our constructor's shape."""
    import keras

    class KerasSelfAttention(keras.layers.MultiHeadAttention):
        def __init__(self, num_heads, key_dim, dropout=0.0, name=None):
            super().__init__(num_heads, key_dim, dropout=dropout, name=name)

        def build(self, query_shape):
            super().build(query_shape, query_shape)

        def call(self, query, training=None, return_attention_scores=False):
            return super().call(query, query, training=training, return_attention_scores=return_attention_scores)

        def compute_output_spec(self, query, training=None, return_attention_scores=False):
            return super().compute_output_spec(query, query, return_attention_scores=return_attention_scores)

    return KerasSelfAttention


def _timers(attention):
    """(train, infer): ``train`` runs STEPS optimizer steps on a digits batch, ``infer`` classifies
    one batch; both compiled once before timing."""
    import numpy as np
    import tensorflow as tf

    from seqgraph.apps.image import model as image
    from seqgraph.datasets import images

    data = images.digits()
    model = image.build_model("vit", data.shape, data.num_classes, attention=attention)
    image.compile_model(model, 1000)
    x = data.images[:TRAIN_BATCH].astype(np.float32)
    y = data.labels[:TRAIN_BATCH]
    batch = tf.data.Dataset.from_tensors((x, y)).repeat()
    model.fit(batch, steps_per_epoch=STEPS, epochs=1, verbose=0)  # builds the train function
    infer_x = tf.constant(data.images[:INFER_BATCH].astype(np.float32))
    infer = tf.function(lambda: model(infer_x, training=False))

    def train():
        model.fit(batch, steps_per_epoch=STEPS, epochs=1, verbose=0)

    return train, lambda: infer().numpy(), model.count_params()


def main(argv=None):
    from bench.common import interleaved, write_results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)

    ours_train, ours_infer, ours_params = _timers(None)
    peer_train, peer_infer, peer_params = _timers(keras_self_attention())
    assert ours_params == peer_params, (ours_params, peer_params)
    times = interleaved(
        {"ours_train": ours_train, "peer_train": peer_train, "ours_infer": ours_infer, "peer_infer": peer_infer},
        repeats=args.repeats,
    )
    result = {
        "model": "vit (patch 1, dim 64, 4 blocks x 4 heads, 8x8 digits)",
        "parameters": ours_params,
        "train_batch": TRAIN_BATCH,
        "infer_batch": INFER_BATCH,
    }
    for phase, images_per_call in (("train", TRAIN_BATCH * STEPS), ("infer", INFER_BATCH)):
        ours, peer = times[f"ours_{phase}"], times[f"peer_{phase}"]
        result[phase] = {
            "ours_images_per_s": images_per_call / ours,
            "keras_mha_images_per_s": images_per_call / peer,
            "ratio": ours / peer,
        }
        print(
            f"{phase:>5}: ours {images_per_call / ours:8.0f} images/s, keras MHA {images_per_call / peer:8.0f} "
            f"images/s, ratio (time) {ours / peer:.2f}"
        )
    write_results("image_attention", result)
    return result


if __name__ == "__main__":
    main()
