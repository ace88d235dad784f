"""``seqgraph speech train``: connected-digit utterances, CTC training, WER on held-out ones."""

import time

import keras

from seqgraph.apps.common import FIT_VERBOSITY, plot_history, run_dir, save_config, save_keras, strategy, write_json
from seqgraph.apps.speech.model import build_model, feature_stats, score, trainer
from seqgraph.datasets import speech


def train(config, out=None, distribute="default", progress="bar"):
    """Train the recogniser on connected digits made from the training takes, and score
    ``config.valid_utterances`` made from the held-out takes.

    Writes ``out`` (default ``runs/speech/<timestamp>``): ``config.json`` (with the feature
    statistics), ``metrics.json`` (WER and CER, loss curves), ``loss.png`` and ``model.keras``.

    Args:
        config: a ``SpeechConfig``.
        out, distribute, progress: the options every ``train`` has (``seqgraph.cli.training_options``).

    Returns:
        The metrics, as written to metrics.json.
    """
    keras.utils.set_random_seed(config.seed)
    train_digits, test_digits = speech.digit_corpus(config.data_dir, config.synthetic_takes)
    out = run_dir("speech", out)
    print(f"making {config.utterances} connected-digit utterances from {len(train_digits)} isolated digits")
    train_set = speech.connected_digits(train_digits, config.utterances, seed=config.seed)
    valid_set = speech.connected_digits(test_digits, config.valid_utterances, seed=10_000)
    stats = feature_stats(train_set, config.mels)
    save_config(config, out / "config.json", "speech", stats=stats)
    train_ds, steps = speech.tf_dataset(train_set, config.batch_size, shuffle=True, seed=config.seed)
    valid_ds, valid_steps = speech.tf_dataset(valid_set, config.batch_size)
    with strategy(distribute).scope():
        acoustic = build_model(stats, **config.model_options())
        model = trainer(acoustic)
        schedule = keras.optimizers.schedules.CosineDecay(
            0.0, steps * config.epochs, warmup_target=config.lr, warmup_steps=max(1, steps * config.epochs // 20)
        )
        model.compile(keras.optimizers.AdamW(schedule, weight_decay=1e-4, clipnorm=5.0))
    start = time.time()
    history = model.fit(
        train_ds.repeat(),
        steps_per_epoch=steps,
        epochs=config.epochs,
        verbose=FIT_VERBOSITY[progress],
        validation_data=valid_ds.repeat(),
        validation_steps=valid_steps,
        shuffle=False,
    )  # the pipeline reshuffles each pass
    seconds = time.time() - start
    save_keras(acoustic, out / "model.keras")
    scores = score(acoustic, valid_set)
    metrics = {
        "wer": scores["wer"],
        "cer": scores["cer"],
        "epochs": config.epochs,
        "wall_time_s": seconds,
        "training_utterances": len(train_set),
        "validation_utterances": len(valid_set),
        "parameters": int(acoustic.count_params()),
        "data": "fsdd" if config.data_dir else "espeak",
        "loss": [float(v) for v in history.history["loss"]],
        "val_loss": [float(v) for v in history.history["val_loss"]],
    }
    write_json(out / "metrics.json", metrics)
    plot_history([history.history], out / "loss.png", title="CTC loss")
    print(
        f"held-out connected digits: WER {metrics['wer']:.4f}, CER {metrics['cer']:.4f} ({seconds:.0f} s)\n"
        f"wrote {out}/metrics.json, loss.png, model.keras"
    )
    return metrics
