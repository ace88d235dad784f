"""PeepholeLSTM vs keras.layers.LSTM: a training step (forward + backward) on the CPU.

    python -m bench.recurrent [--quick]

Both run as Keras models under ``train_on_batch``, timed in alternation in one process;
ratio = ours / peer. A peephole cell does three extra multiplies per step, and Keras' LSTM has
no fused CPU kernel to lose, so the two share the same RNN loop.
"""

import argparse


def _model(layer, steps, features):
    import keras

    inputs = keras.Input((steps, features))
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)))
    model.compile(keras.optimizers.SGD(1e-3), "mse")
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    from bench.common import interleaved, write_results
    from seqgraph import layers

    rows = []
    configs = [(32, 50, 32, 64)] if args.quick else [(32, 50, 32, 64), (32, 100, 64, 128), (8, 400, 40, 128)]
    for batch, steps, features, units in configs:
        rng = np.random.default_rng(0)
        x = rng.normal(size=(batch, steps, features)).astype("float32")
        y = rng.normal(size=(batch, 1)).astype("float32")
        ours = _model(layers.PeepholeLSTM(units), steps, features)
        peer = _model(keras.layers.LSTM(units), steps, features)
        times = interleaved(
            {"ours": lambda: ours.train_on_batch(x, y), "peer": lambda: peer.train_on_batch(x, y)},
            repeats=5 if args.quick else 20,
            warmup=3,
        )
        row = {
            "batch": batch,
            "steps": steps,
            "features": features,
            "units": units,
            "peephole_lstm_ms": 1e3 * times["ours"],
            "keras_lstm_ms": 1e3 * times["peer"],
            "ratio": times["ours"] / times["peer"],
        }
        print(
            f"B={batch} T={steps} F={features} U={units}: peephole {row['peephole_lstm_ms']:.1f} ms, "
            f"keras LSTM {row['keras_lstm_ms']:.1f} ms, ratio {row['ratio']:.2f}",
            flush=True,
        )
        rows.append(row)
    write_results("recurrent", {"what": "train_on_batch step, forward+backward", "rows": rows})


if __name__ == "__main__":
    main()
