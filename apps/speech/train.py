"""``seqgraph speech train``: connected-digit utterances, CTC training, WER on held-out ones."""

import time

import keras

from seqgraph.apps.common import plot_history, save_config, save_keras, strategy, training_run
from seqgraph.apps.speech.model import build_model, feature_stats, score, trainer
from seqgraph.apps.training import fit, replica_batches
from seqgraph.datasets import speech


def train(config, out=None, distribute="default", progress="bar", overwrite=False):
    """Train the recogniser on connected digits made from the training takes, and score
    ``config.valid_utterances`` made from the held-out takes.

    Writes ``out`` (default ``runs/speech/<timestamp>``): ``config.json`` (with the feature
    statistics), ``metrics.json`` (WER and CER, loss curves), ``loss.png``, ``model.keras`` and
    TensorBoard logs in ``logs/``. Re-run on an unfinished run, it resumes after the last whole
    epoch.

    Args:
        config: a ``SpeechConfig``.
        out, distribute, progress, overwrite: the options every ``train`` has
            (``seqgraph.cli.training_options``).

    Returns:
        The metrics, as written to metrics.json.
    """
    distribution = strategy(distribute)
    keras.utils.set_random_seed(config.seed)
    train_digits, test_digits = speech.digit_corpus(config.data_dir, config.synthetic_takes)
    with training_run("speech", out, config, overwrite, distribution) as run:
        print(f"making {config.utterances} connected-digit utterances from {len(train_digits)} isolated digits")
        train_set = speech.connected_digits(train_digits, config.utterances, seed=config.seed)
        valid_set = speech.connected_digits(test_digits, config.valid_utterances, seed=10_000)
        stats = feature_stats(train_set, config.mels)
        if run.chief:
            save_config(config, run.path / "config.json", "speech", stats=stats)

        def train_data(context):  # this input pipeline's replicas' parts of each global batch
            return replica_batches(
                speech.tf_dataset(train_set, config.batch_size, shuffle=True, seed=config.seed)[0], context
            )

        steps = -(-len(train_set) // config.batch_size)
        valid_ds, valid_steps = speech.tf_dataset(valid_set, config.batch_size)
        keras.utils.set_random_seed(config.seed)
        with distribution.scope():
            acoustic = build_model(stats, **config.model_options())
            model = trainer(acoustic)
            schedule = keras.optimizers.schedules.CosineDecay(
                0.0, steps * config.epochs, warmup_target=config.lr, warmup_steps=max(1, steps * config.epochs // 20)
            )
            model.compile(keras.optimizers.AdamW(schedule, weight_decay=1e-4, clipnorm=5.0))
        start = time.time()
        history = fit(
            model,
            train_data,
            steps,
            config.epochs,
            run,
            distribution,
            progress,
            validation_data=valid_ds.repeat(),
            validation_steps=valid_steps,
        )
        seconds = time.time() - start
        if run.chief:
            save_keras(acoustic, run.path / "model.keras")
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
            "loss": history["loss"],
            "val_loss": history["val_loss"],
        }
        if run.chief:
            plot_history([history], run.path / "loss.png", title="CTC loss")
        metrics = run.finish(metrics)
    print(
        f"held-out connected digits: WER {metrics['wer']:.4f}, CER {metrics['cer']:.4f} ({seconds:.0f} s)\n"
        f"{run.wrote('metrics.json, loss.png, model.keras')}"
    )
    return metrics
