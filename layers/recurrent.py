"""Peephole LSTM (Gers, Schraudolph & Schmidhuber 2002): the gates also look at the cell state.

i = s(W_i x + U_i h + p_i*c_prev + b_i);  f = s(W_f x + U_f h + p_f*c_prev + b_f)
c = f*c_prev + i*tanh(W_c x + U_c h + b_c); o = s(W_o x + U_o h + p_o*c + b_o); h = o*tanh(c)

Weights keep Keras' LSTM layout (``kernel [F,4U]``, ``recurrent_kernel [U,4U]``, ``bias [4U]``,
gate order i, f, c, o), so an LSTM's weights load directly and zero peepholes reproduce it.
"""

import keras
from keras import ops

from seqgraph.layers.initializers import clone_initializer


@keras.saving.register_keras_serializable(package="seqgraph")
class PeepholeLSTMCell(keras.layers.Layer):
    """One step of the peephole LSTM (Gers, Schraudolph & Schmidhuber 2002), for ``keras.layers.RNN``.

    ``i = s(W_i x + U_i h + p_i * c_prev + b_i)``, ``f = s(W_f x + U_f h + p_f * c_prev + b_f)``,
    ``c = f * c_prev + i * tanh(W_c x + U_c h + b_c)``, ``o = s(W_o x + U_o h + p_o * c + b_o)``,
    ``h = o * tanh(c)``: the input and forget gates see the previous cell state, the output gate
    the new one. Weights in ``keras.layers.LSTM``'s layout (``kernel [F, 4U]``,
    ``recurrent_kernel [U, 4U]``, ``bias [4U]``, gates i, f, c, o) plus ``peephole_i``,
    ``peephole_f``, ``peephole_o [U]``; with zero peepholes (their default start) it computes what
    an LSTM with the same weights does.

    Args:
        units: U, the size of h and c.
        activation: the cell and output activation (tanh).
        recurrent_activation: the gates' activation (sigmoid).
        use_bias: whether the gates have biases.
        kernel_initializer, recurrent_initializer, bias_initializer, peephole_initializer:
            initializers of the weights.
        unit_forget_bias: start the forget gate's bias at 1 (Jozefowicz et al. 2015).

    Call arguments:
        inputs: ``[batch, features]``, one time step.
        states: ``[h_prev, c_prev]``, each ``[batch, units]``.

    Returns:
        ``(h, [h, c])``.

    Example:

    >>> rnn = keras.layers.RNN(PeepholeLSTMCell(32), return_sequences=True)
    >>> rnn(np.zeros((2, 10, 8), "float32")).shape
    TensorShape([2, 10, 32])
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        peephole_initializer="zeros",
        unit_forget_bias=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if units <= 0:
            raise ValueError(f"units must be positive, got {units}")
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.recurrent_activation = keras.activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.peephole_initializer = keras.initializers.get(peephole_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [self.units, self.units]
        self.output_size = self.units

    def build(self, input_shape):
        u = self.units
        # clones: one initializer instance passed as both would otherwise draw the same values
        self.kernel = self.add_weight(
            name="kernel", shape=(input_shape[-1], 4 * u), initializer=clone_initializer(self.kernel_initializer, 0)
        )
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(u, 4 * u), initializer=clone_initializer(self.recurrent_initializer, 1)
        )
        if self.use_bias:
            init = self.bias_initializer
            if self.unit_forget_bias:
                base = self.bias_initializer

                def init(shape, dtype=None):
                    return ops.concatenate([base((u,), dtype), ops.ones((u,), dtype), base((2 * u,), dtype)])

            self.bias = self.add_weight(name="bias", shape=(4 * u,), initializer=init)
        self.peephole_i, self.peephole_f, self.peephole_o = (
            self.add_weight(name=name, shape=(u,), initializer=self.peephole_initializer)
            for name in ("peephole_i", "peephole_f", "peephole_o")
        )

    def call(self, inputs, states, training=False):
        h_prev, c_prev = states
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel)
        if self.use_bias:
            z = z + self.bias
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = self.recurrent_activation(z_i + self.peephole_i * c_prev)
        f = self.recurrent_activation(z_f + self.peephole_f * c_prev)
        c = f * c_prev + i * self.activation(z_c)
        o = self.recurrent_activation(z_o + self.peephole_o * c)
        h = o * self.activation(c)
        return h, [h, c]

    def get_initial_state(self, batch_size=None):
        return [ops.zeros((batch_size, self.units), dtype=self.compute_dtype)] * 2

    def get_config(self):
        ser = keras.initializers.serialize
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "recurrent_activation": keras.activations.serialize(self.recurrent_activation),
            "use_bias": self.use_bias,
            "unit_forget_bias": self.unit_forget_bias,
            "kernel_initializer": ser(self.kernel_initializer),
            "recurrent_initializer": ser(self.recurrent_initializer),
            "bias_initializer": ser(self.bias_initializer),
            "peephole_initializer": ser(self.peephole_initializer),
        }


_CELL_ARGS = (
    "activation",
    "recurrent_activation",
    "use_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "peephole_initializer",
    "unit_forget_bias",
)


@keras.saving.register_keras_serializable(package="seqgraph")
class PeepholeLSTM(keras.layers.RNN):
    """A peephole LSTM over a sequence (``PeepholeLSTMCell`` in ``keras.layers.RNN``).

    Masks, ``keras.layers.Bidirectional``, states, ``go_backwards`` and ``stateful`` work as
    for ``keras.layers.LSTM``, and an LSTM's weights load into it (peepholes at zero).

    Args:
        units: the size of h and c.
        return_sequences: return h at every step, not only the last.
        return_state: also return the last ``[h, c]``.
        go_backwards, stateful, unroll: as ``keras.layers.RNN``'s.
        **kwargs: the cell's options (``activation``, ``recurrent_activation``, ``use_bias``,
            the initializers, ``unit_forget_bias``) and the layer's (``name``, ``dtype``).

    Call arguments:
        inputs: ``[batch, time, features]``.
        mask: optional ``[batch, time]``: padded steps keep the previous state.
        initial_state: optional ``[h, c]``.

    Returns:
        ``[batch, units]``, or ``[batch, time, units]`` with ``return_sequences``.

    Example:

    >>> seq = keras.Input((None, 20))
    >>> h = keras.layers.Masking(0.0)(seq)
    >>> h = keras.layers.Bidirectional(PeepholeLSTM(64, return_sequences=True))(h)
    >>> keras.Model(seq, keras.layers.Dense(10)(h)).output.shape
    (None, None, 10)
    """

    def __init__(
        self,
        units,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        **kwargs,
    ):
        cell_kwargs = {name: kwargs.pop(name) for name in _CELL_ARGS if name in kwargs}
        cell = PeepholeLSTMCell(units, dtype=kwargs.get("dtype"), name="peephole_lstm_cell", **cell_kwargs)
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            **kwargs,
        )
        self.input_spec = keras.layers.InputSpec(ndim=3)

    @property
    def units(self):
        return self.cell.units

    def get_config(self):
        config = super().get_config()
        del config["cell"]
        cell_config = self.cell.get_config()
        return {**config, "units": self.units, **{k: cell_config[k] for k in _CELL_ARGS}}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
