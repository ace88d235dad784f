"""Batch normalisation of node (or any [batch, features]) vectors with TensorFlow's fused kernel."""

import keras


@keras.saving.register_keras_serializable(package="seqgraph")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """``keras.layers.BatchNormalization`` that trains ``[N, C]`` inputs with TensorFlow's fused kernel.

    The same arguments, weights and results as Keras' layer (Ioffe & Szegedy 2015: normalise
    each feature by the batch's mean and variance, then scale and shift); Keras 3 composes its
    training step from about ten ops whose gradients broadcast and tile, which the one fused
    kernel replaces (the speed-up is in bench/README.md). Inference, other ranks, axes, masks,
    renorm and other backends go through Keras' layer unchanged.

    Args:
        As ``keras.layers.BatchNormalization``.

    Call arguments:
        inputs: ``[N, C]`` (node features, say).
        training: use the batch's statistics and update the moving ones.

    Returns:
        The normalised inputs, same shape.

    Example:

    >>> FusedBatchNormalization(momentum=0.9)(np.random.rand(100, 64).astype("float32"), training=True).shape
    TensorShape([100, 64])
    """

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable and self._fusable(inputs, mask)):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        features = inputs.shape[-1]
        gamma = self.gamma if self.scale else tf.ones([features])
        beta = self.beta if self.center else tf.zeros([features])
        # NHWC with N = H = 1 and W = the rows: statistics over the rows, per feature (channel).
        y, mean, variance, *_ = tf.raw_ops.FusedBatchNormV3(
            x=tf.reshape(inputs, [1, 1, -1, features]),
            scale=gamma,
            offset=beta,
            mean=tf.zeros([0]),
            variance=tf.zeros([0]),
            epsilon=self.epsilon,
            data_format="NHWC",
            is_training=True,
        )
        # The kernel returns the unbiased variance; Keras averages the biased one.
        rows = tf.cast(tf.shape(inputs)[0], variance.dtype)
        variance = variance * (rows - 1.0) / tf.maximum(rows, 1.0)
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return tf.reshape(y, tf.shape(inputs))

    def _fusable(self, inputs, mask):
        return (
            keras.backend.backend() == "tensorflow"
            and len(inputs.shape) == 2
            and self.axis in (-1, 1)
            and mask is None
            and not self.renorm
            and not self.synchronized
            and inputs.dtype == "float32"
        )
