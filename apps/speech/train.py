"""``seqgraph speech train``: a corpus (a manifest, or connected digits), CTC training, WER on
held-out utterances."""

import dataclasses
import time

import keras
import numpy as np

from seqgraph.apps.common import ConfigError, plot_history, save_config, save_keras, strategy, training_run
from seqgraph.apps.speech.model import build_model, feature_stats, score, trainer
from seqgraph.apps.training import fit, replica_batches
from seqgraph.datasets import speech


def corpus(config, quiet=False):
    """``(train, held_out, facts)`` of a run's corpus: the utterances of ``config.manifest`` and
    of ``config.valid_manifest`` (or ``config.valid_utterances`` of the training manifest, held out
    by the seed), or connected digits made from the training and held-out takes. Training
    utterances longer than ``config.max_seconds`` are left out. ``facts`` counts what was left
    out and how much of the training batches is padding."""
    if not config.manifest:
        train_digits, test_digits = speech.digit_corpus(config.data_dir, config.synthetic_takes, config.test_speaker)
        if not quiet:
            print(f"making {config.utterances} connected-digit utterances from {len(train_digits)} isolated digits")
        train_set = speech.connected_digits(train_digits, config.utterances, seed=config.seed)
        if config.espeak_utterances:  # more voices: eSpeak NG's digits, any voice next to any other
            digits = [dataclasses.replace(u, speaker="espeak") for u in speech.synthetic_digits(config.synthetic_takes)]
            train_set += speech.connected_digits(digits, config.espeak_utterances, seed=config.seed + 1)
            if not quiet:
                print(f"and {config.espeak_utterances} connected-digit utterances from {len(digits)} eSpeak NG digits")
        valid_set = speech.connected_digits(test_digits, config.valid_utterances, seed=10_000)
        facts = {"data": "fsdd" if config.data_dir else "espeak"}
    else:
        train_set, skipped = speech.read_manifest(config.manifest, config.skip_bad)
        if config.valid_manifest:
            valid_set, valid_skipped = speech.read_manifest(config.valid_manifest, config.skip_bad)
            skipped += valid_skipped
        else:
            if len(train_set) <= config.valid_utterances:
                raise ConfigError(
                    f"--valid-utterances {config.valid_utterances}: {config.manifest} has {len(train_set)} "
                    "utterances; hold out fewer, or give --valid-manifest"
                )
            order = np.random.default_rng(config.seed).permutation(len(train_set))
            held = set(order[: config.valid_utterances].tolist())
            valid_set = [u for i, u in enumerate(train_set) if i in held]
            train_set = [u for i, u in enumerate(train_set) if i not in held]
        long = [u for u in train_set if u.seconds() > config.max_seconds]
        train_set = [u for u in train_set if u.seconds() <= config.max_seconds]
        if not train_set:
            raise ConfigError(f"--max-seconds {config.max_seconds:g}: every training utterance is longer")
        facts = {"data": str(config.manifest), "skipped": len(skipped), "too_long": len(long)}
        if not quiet:
            for line in skipped[:20]:
                print(f"skipped {line}")
            hours = sum(u.seconds() for u in train_set) / 3600
            print(
                f"{config.manifest}: {len(train_set)} training utterances ({hours:.2f} h), {len(valid_set)} held out; "
                f"left out: {len(skipped)} bad, {len(long)} longer than {config.max_seconds:g} s"
            )
    facts["padding"] = float(speech.padding_fraction(train_set, config.batch_size, config.sample_rate))
    if not quiet:
        print(f"padding: {100 * facts['padding']:.1f}% of the training batches' samples (batches by length)")
    return train_set, valid_set, facts


def train(config, out=None, distribute="default", progress="bar", overwrite=False):
    """Train the recogniser on a corpus (``config.manifest``) or on connected digits made from
    the training takes, and score the held-out utterances.

    Writes ``out`` (default ``runs/speech/<timestamp>``): ``config.json`` (with the feature
    statistics and the alphabet), ``metrics.json`` (WER and CER, loss curves), ``loss.png``,
    ``model.keras`` and TensorBoard logs in ``logs/``. Re-run on an unfinished run, it resumes
    after the last whole epoch.

    Args:
        config: a ``SpeechConfig``.
        out, distribute, progress, overwrite: the options every ``train`` has
            (``seqgraph.cli.training_options``).

    Returns:
        The metrics, as written to metrics.json.
    """
    distribution = strategy(distribute)
    keras.utils.set_random_seed(config.seed)
    train_set, valid_set, facts = corpus(config)
    with training_run("speech", out, config, overwrite, distribution) as run:
        stats = feature_stats(train_set, config.mels, sample_rate=config.sample_rate)
        if run.chief:
            save_config(config, run.path / "config.json", "speech", stats=stats, alphabet=speech.ALPHABET, blank=0)

        def train_data(context):  # this input pipeline's replicas' parts of each global batch
            return replica_batches(
                speech.tf_dataset(
                    train_set, config.batch_size, True, config.seed, config.sample_rate, config.augmentation()
                )[0],
                context,
            )

        steps = -(-len(train_set) // config.batch_size)
        valid_ds, valid_steps = speech.tf_dataset(valid_set, config.batch_size, sample_rate=config.sample_rate)
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
            **facts,
            "loss": history["loss"],
            "val_loss": history["val_loss"],
        }
        if run.chief:
            plot_history([history], run.path / "loss.png", title="CTC loss")
        metrics = run.finish(metrics)
    print(
        f"held-out utterances: WER {metrics['wer']:.4f}, CER {metrics['cer']:.4f} ({seconds:.0f} s)\n"
        f"{run.wrote('metrics.json, loss.png, model.keras')}"
    )
    return metrics
