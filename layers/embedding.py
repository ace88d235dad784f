"""Prediction-based word embeddings (Mikolov et al. 2013) with negative sampling.

Both layers hold a target table (the word vectors people use) and a context table, and return
logits ``[batch, 1 + negatives]`` for candidate context words whose column 0 is the true one;
``negative_sampling_loss`` turns those into -log s(u_o.v) - sum_k log s(-u_k.v).
Tables start as in word2vec: targets uniform(+-0.5/dim), contexts zero.
"""

import keras
from keras import ops


class _WordTables(keras.layers.Layer):
    def __init__(self, vocab_size, dim, **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = int(vocab_size)
        self.dim = int(dim)

    def build(self, input_shape):
        bound = 0.5 / self.dim
        self.target_embeddings = self.add_weight(
            name="target_embeddings",
            shape=(self.vocab_size, self.dim),
            initializer=keras.initializers.RandomUniform(-bound, bound),
        )
        self.context_embeddings = self.add_weight(
            name="context_embeddings", shape=(self.vocab_size, self.dim), initializer="zeros"
        )

    @property
    def vectors(self):
        """The word vectors ``[vocab_size, dim]`` (the target table)."""
        return self.target_embeddings

    def _logits(self, centre, candidates):
        """centre [B, dim] . context vectors of candidates [B, C] -> [B, C]."""
        cand = ops.take(self.context_embeddings, ops.cast(candidates, "int32"), axis=0)
        return ops.einsum("bd,bcd->bc", centre, cand)

    def get_config(self):
        return {**super().get_config(), "vocab_size": self.vocab_size, "dim": self.dim}


@keras.saving.register_keras_serializable(package="seqgraph")
class SkipGram(_WordTables):
    """Skip-gram with negative sampling (Mikolov et al. 2013): predict context words from a word.

    Logits ``u_c . v_w`` of candidate context words c for the centre word w, from a target table
    (``v``, the word vectors people use: ``layer.vectors``) and a context table (``u``). Tables
    start as in word2vec: targets uniform(+-0.5/dim), contexts zero.

    Args:
        vocab_size: words in the vocabulary (ids 0..vocab_size-1).
        dim: vector size.

    Call arguments:
        inputs: ``[targets [B], candidates [B, 1 + negatives]]`` (int ids): column 0 of
            ``candidates`` is the true context word, the others negatives.

    Returns:
        Logits ``[B, 1 + negatives]``, for ``negative_sampling_loss``.

    Example:

    >>> sg = SkipGram(vocab_size=10000, dim=100)
    >>> sg([np.array([5, 7]), np.array([[3, 9, 1, 4], [8, 2, 6, 5]])]).shape
    TensorShape([2, 4])
    """

    def call(self, inputs):
        targets, candidates = inputs
        centre = ops.take(self.target_embeddings, ops.cast(targets, "int32"), axis=0)
        return self._logits(centre, candidates)


@keras.saving.register_keras_serializable(package="seqgraph")
class CBOW(_WordTables):
    """Continuous bag of words (Mikolov et al. 2013): predict a word from the mean of its context.

    Logits ``u_c . h`` of candidate words c, with ``h`` the mean of the context words' target
    vectors. Tables as ``SkipGram``'s.

    Args:
        vocab_size: words in the vocabulary.
        dim: vector size.
        mask_zero: id 0 is padding (for dynamic windows), left out of the mean.

    Call arguments:
        inputs: ``[contexts [B, W], candidates [B, 1 + negatives]]`` (int ids).

    Returns:
        Logits ``[B, 1 + negatives]``.

    Example:

    >>> CBOW(vocab_size=10000, dim=100)([np.array([[3, 9, 0, 0]]), np.array([[5, 1, 2]])]).shape
    TensorShape([1, 3])
    """

    def __init__(self, vocab_size, dim, mask_zero=True, **kwargs):
        super().__init__(vocab_size, dim, **kwargs)
        self.mask_zero = bool(mask_zero)

    def call(self, inputs):
        contexts, candidates = inputs
        contexts = ops.cast(contexts, "int32")
        vectors = ops.take(self.target_embeddings, contexts, axis=0)  # [B, W, dim]
        if self.mask_zero:
            keep = ops.cast(ops.not_equal(contexts, 0), vectors.dtype)
        else:
            keep = ops.ones_like(contexts, dtype=vectors.dtype)
        total = ops.sum(vectors * ops.expand_dims(keep, -1), axis=1)
        centre = total / ops.maximum(ops.sum(keep, axis=1, keepdims=True), 1.0)
        return self._logits(centre, candidates)

    def get_config(self):
        return {**super().get_config(), "mask_zero": self.mask_zero}


def negative_sampling_loss(y_true, logits):
    """Negative-sampling loss ``-log s(l_0) - sum_k log s(-l_k)`` per example (Mikolov et al. 2013).

    Args:
        y_true: ignored (the layout carries the labels), so the function works as a Keras loss.
        logits: ``[B, 1 + negatives]``, column 0 the true context.

    Returns:
        ``[B]`` losses.

    Example:

    >>> model.compile("adam", loss=negative_sampling_loss)   # a model ending in SkipGram or CBOW
    """
    del y_true
    positive = -ops.log_sigmoid(logits[:, 0])
    negative = -ops.sum(ops.log_sigmoid(-logits[:, 1:]), axis=-1)
    return positive + negative
