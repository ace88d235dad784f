"""Skip-gram and CBOW networks on seqgraph's word tables, and word2vec's SGD as a Keras trainer."""

import keras
import tensorflow as tf

from seqgraph import layers
from seqgraph.layers import CBOW, negative_sampling_loss

EXAMPLES_PER_CALL = 32768  # training examples per call into TF (batches of one XLA loop): a batch takes ~0.5 ms


def word_vectors(net):
    """The target table ``[vocab_size, dim]`` of a network from ``build_model``, as NumPy."""
    return keras.ops.convert_to_numpy(net.get_layer("word2vec").vectors)


def build_model(kind, vocab_size, dim, window):
    """``[inputs, candidates] -> logits``: centre ids ``[B]`` (skip-gram) or context ids
    ``[B, 2 * window]`` (CBOW, 0 = padding) against candidate ids ``[B, 1 + negative]``."""
    shape = () if kind == "skipgram" else (2 * window,)
    inputs = keras.Input(shape, dtype="int32", name="inputs")
    candidates = keras.Input((None,), dtype="int32", name="candidates")
    tables = (layers.SkipGram if kind == "skipgram" else layers.CBOW)(vocab_size, dim, name="word2vec")
    return keras.Model([inputs, candidates], tables([inputs, candidates]), name=kind)


def trainer(net, total_tokens, lr, min_lr, batches_per_call=1, steps_per_execution=1):
    """``net`` wrapped for word2vec's SGD: the per-example losses of a batch are summed (each
    example takes a step of size lr, as in word2vec.c), and lr falls linearly from ``lr`` to
    ``min_lr`` with the corpus tokens seen over the whole training. For CBOW, as word2vec.c and
    gensim do, every context word receives the whole error of the mean of the context vectors
    (not the mean's gradient, which is that error divided by the number of context words).
    Each element of the training data is a call of ``batches_per_call`` batches ``((inputs [S, B, ...],
    candidates [S, B, 1 + negative]), tokens [S])``, trained one after the other in one XLA loop:
    Keras' ``steps_per_execution`` runs S steps as S XLA launches in a TF while loop, which on a
    1024-example batch costs as much as the step itself. Under tf.distribute, where the
    optimizer's cross-replica sync cannot sit in a loop, calls hold one batch and
    ``steps_per_execution`` of them run per call into TF."""
    tables = net.get_layer("word2vec")
    cbow = isinstance(tables, CBOW)

    class Word2VecTrainer(keras.Model):
        def __init__(self):
            super().__init__()
            self.net = net
            # Under tf.distribute every replica adds its batch's tokens times the number of replicas,
            # and the replicas' new values are averaged: the sum of their tokens (Keras' assign_add is
            # an assign, which a "sum" aggregation would apply to the whole value).
            self.tokens_seen = keras.Variable(0.0, trainable=False, name="tokens_seen", aggregation="mean")
            self.loss_tracker = keras.metrics.Mean(name="loss")

        def learning_rate(self):
            done = keras.ops.minimum(self.tokens_seen / float(total_tokens), 1.0)
            return lr - (lr - min_lr) * done

        def call(self, inputs):
            """Logits ``[S, B, 1 + negative]`` of a call's batches (Keras builds the model with it)."""
            inputs, candidates = inputs
            logits = self.net([keras.ops.reshape(x, (-1, *x.shape[2:])) for x in (inputs, candidates)])
            return keras.ops.reshape(logits, keras.ops.shape(candidates))

        @property
        def metrics(self):
            return [self.loss_tracker]

        def train_step(self, data):
            (inputs, candidates), tokens = data
            variables = [tables.target_embeddings, tables.context_embeddings]

            def one_batch(i, loss_sum, examples):
                real = tf.cast(candidates[i][:, 0] > 0, tf.float32)  # 0: an example padding a batch
                with tf.GradientTape() as tape:
                    losses = negative_sampling_loss(None, self.net([inputs[i], candidates[i]], training=True))
                    total = tf.reduce_sum(losses * real)
                target_grad, context_grad = tape.gradient(total, variables)
                if cbow:  # rows of target_grad follow inputs [B, W] row by row
                    counts = tf.reduce_sum(tf.cast(inputs[i] > 0, tf.float32), axis=1, keepdims=True)
                    per_row = tf.reshape(tf.broadcast_to(counts, tf.shape(inputs[i])), [-1, 1])
                    target_grad = tf.IndexedSlices(
                        target_grad.values * per_row, target_grad.indices, target_grad.dense_shape
                    )
                self.optimizer.apply([target_grad, context_grad], variables)
                self.tokens_seen.assign_add(tokens[i] * tf.distribute.get_strategy().num_replicas_in_sync)
                return i + 1, loss_sum + total, examples + tf.reduce_sum(real)

            start = (tf.constant(0), tf.constant(0.0), tf.constant(0.0))
            if batches_per_call == 1:
                _, loss_sum, examples = one_batch(*start)
            else:
                batches = tf.reduce_sum(tf.cast(candidates[:, 0, 0] > 0, tf.int32))  # the rest pad the call
                _, loss_sum, examples = tf.while_loop(lambda i, *_: i < batches, one_batch, start)
            self.loss_tracker.update_state(tf.math.divide_no_nan(loss_sum, examples), sample_weight=examples)
            return {"loss": self.loss_tracker.result()}

    model = Word2VecTrainer()
    # XLA fuses the gathers, products and scatters (2-3x faster than TF's kernels here)
    model.compile(
        keras.optimizers.SGD(learning_rate=model.learning_rate),
        jit_compile=True,
        steps_per_execution=steps_per_execution,
    )
    return model
