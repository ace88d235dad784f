"""CTC (Graves et al. 2006) loss and decoding for logits ``[batch, time, classes]``.

Thin wrappers over ``keras.ops.ctc_loss`` / ``keras.ops.ctc_decode`` that fix one convention:
the blank is class ``blank_index`` (default 0), and decoded label sequences are ``int32
[batch, time]`` padded with -1. ``ctc_greedy_decode`` uses only basic ops (top-k, compare,
cumsum, scatter), so it also converts to TFLite builtins and runs in TF Serving.
"""

import keras
from keras import ops

PAD = -1


def ctc_loss(labels, label_lengths, logits, logit_lengths, blank_index=0):
    """CTC loss (Graves et al. 2006): per example, -log of the summed probability of every frame
    alignment of ``labels`` under ``logits``.

    Args:
        labels: ``[B, L]`` class ids (padded; the padding is not read).
        label_lengths: ``[B]`` the labels' lengths.
        logits: ``[B, T, classes]``.
        logit_lengths: ``[B]`` frames that count.
        blank_index: the blank's class.

    Returns:
        ``[B]`` losses.

    Example:

    >>> ctc_loss(np.array([[8, 5, 12]]), np.array([3]), np.random.randn(1, 50, 29), np.array([50])).shape
    TensorShape([1])
    """
    return ops.ctc_loss(
        ops.cast(labels, "int32"),
        logits,
        ops.cast(label_lengths, "int32"),
        ops.cast(logit_lengths, "int32"),
        mask_index=blank_index,
    )


@keras.saving.register_keras_serializable(package="seqgraph")
class CTCLoss(keras.losses.Loss):
    """CTC as a Keras loss for ``model.fit``: ``y_true`` labels padded with -1, ``y_pred`` logits.

    Every logit frame counts (use ``ctc_loss`` with explicit lengths for padded audio).

    Args:
        blank_index: the blank's class.

    Example:

    >>> model.compile("adam", loss=CTCLoss())   # a model whose output is [batch, time, classes]
    """

    def __init__(self, blank_index=0, name="ctc_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.blank_index = int(blank_index)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "int32")
        label_lengths = ops.sum(ops.cast(ops.not_equal(y_true, PAD), "int32"), axis=-1)
        shape = ops.shape(y_pred)
        logit_lengths = ops.full((shape[0],), shape[1], dtype="int32")
        labels = ops.where(ops.equal(y_true, PAD), ops.zeros_like(y_true), y_true)
        return ctc_loss(labels, label_lengths, y_pred, logit_lengths, self.blank_index)

    def get_config(self):
        return {**super().get_config(), "blank_index": self.blank_index}


def ctc_greedy_decode(logits, lengths, blank_index=0):
    """Greedy (best path) CTC decoding: the most likely class per frame, repeats merged, blanks dropped.

    Only basic ops (top-k, compare, cumsum, scatter), so it converts to TFLite builtins.

    Args:
        logits: ``[B, T, classes]``.
        lengths: ``[B]`` frames that count.
        blank_index: the blank's class.

    Returns:
        ``[B, T]`` int32 label ids, padded with -1.

    Example:

    >>> ctc_greedy_decode(np.random.randn(2, 50, 29), np.array([50, 42])).shape
    TensorShape([2, 50])
    """
    shape = ops.shape(logits)
    batch, steps = shape[0], shape[1]
    best = ops.squeeze(ops.top_k(logits, 1)[1], -1)  # argmax that converts to TFLite builtins
    best = ops.cast(best, "int32")
    previous = ops.pad(best[:, :-1], [[0, 0], [1, 0]], constant_values=PAD)
    in_length = ops.expand_dims(ops.arange(steps, dtype="int32"), 0) < ops.expand_dims(ops.cast(lengths, "int32"), -1)
    keep = ops.logical_and(ops.logical_and(ops.not_equal(best, previous), ops.not_equal(best, blank_index)), in_length)
    # Kept labels move to their rank among kept frames; the rest go to an extra dropped column.
    slot = ops.where(keep, ops.cumsum(ops.cast(keep, "int32"), axis=1) - 1, steps)
    rows = ops.broadcast_to(ops.expand_dims(ops.arange(batch, dtype="int32"), -1), (batch, steps))
    index = ops.reshape(ops.stack([rows, slot], axis=-1), (-1, 2))
    dense = ops.scatter(index, ops.reshape(best - PAD, (-1,)), (batch, steps + 1))
    return dense[:, :steps] + PAD


def ctc_beam_decode(logits, lengths, beam_width=16, top_paths=1, blank_index=0):
    """Beam-search CTC decoding (``keras.ops.ctc_decode``; a TF op, not a TFLite builtin).

    Args:
        logits: ``[B, T, classes]``.
        lengths: ``[B]`` frames that count.
        beam_width: beams kept.
        top_paths: labellings returned per example.
        blank_index: the blank's class.

    Returns:
        ``(paths [top_paths, B, T] padded with -1, log_probabilities [B, top_paths])``.

    Example:

    >>> paths, log_probs = ctc_beam_decode(np.random.randn(2, 50, 29), np.array([50, 42]), top_paths=2)
    """
    return ops.ctc_decode(
        logits,
        ops.cast(lengths, "int32"),
        strategy="beam_search",
        beam_width=beam_width,
        top_paths=top_paths,
        mask_index=blank_index,
    )
