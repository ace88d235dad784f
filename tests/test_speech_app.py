"""The speech app: the model's lengths and padding, and train / evaluate / transcribe end to end
on a few eSpeak NG digits (a tiny model and one epoch: the commands and files, not the WER)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from seqgraph.apps.speech import model as app
from seqgraph.datasets import speech
from tests.helpers import tf_only

pytestmark = tf_only  # the app trains with the TensorFlow backend (tf.data, MelSpectrogram)

TINY = ["--dim", "16", "--blocks", "1", "--heads", "2", "--window", "4", "--ffn-dim", "16", "--lstm-units", "8"]


@pytest.mark.parametrize("options", [{}, {"utterance_norm": True, "vtlp": True}])
def test_an_utterance_gets_the_same_logits_alone_and_padded_in_a_batch(options):
    model = app.build_model(([0.0] * 40, [100.0] * 40), dim=32, blocks=1, lstm_units=16, window=3, **options)
    rng = np.random.default_rng(0)
    waves = rng.normal(0, 0.1, size=(2, 12000)).astype("float32")
    lengths = np.array([12000, 7001], "int32")
    batch = model({"waveform": waves, "lengths": lengths})
    np.testing.assert_array_equal(np.asarray(batch["lengths"]), app.steps_for(app.frames_for(lengths)))
    alone = model({"waveform": waves[1:, :7001], "lengths": lengths[1:]})
    steps = int(alone["lengths"][0])
    np.testing.assert_allclose(
        np.asarray(alone["logits"])[0, :steps], np.asarray(batch["logits"])[1, :steps], atol=1e-4
    )


def _log_mel_in_int8_tflite(layer, wave, folder):
    """``layer``'s output on ``wave`` after dynamic-range int8 conversion (LiteRT)."""
    import keras
    import tensorflow as tf

    from seqgraph.apps import export as ex

    inputs = keras.Input((None,))
    model = keras.Model(inputs, layer(inputs))
    ex.write_saved_model(
        model,
        folder,
        {
            ex.LITE_SIGNATURE: (
                lambda waveform: {"log_mel": model(waveform)},
                [tf.TensorSpec((1, None), tf.float32, "waveform")],
            )
        },
    )
    (_, _, _), (_, _, lite) = ex.lite_models(folder, "dynamic")
    return lite({"waveform": wave[None]})["log_mel"][0]


def test_log_mel_equals_keras_and_stays_float_in_int8_tflite(tmp_path):
    import keras

    rng = np.random.default_rng(0)
    t = np.arange(8000) / 8000
    # a loud tone over quiet noise: 80 dB between the loudest and the quietest bands
    wave = (0.5 * np.sin(2 * np.pi * 300 * t) * (t < 0.5) + rng.normal(0, 1e-4, 8000)).astype("float32")
    ours = app.log_mel()
    config = {k: v for k, v in ours.get_config().items() if k != "name"}
    expected = np.asarray(keras.layers.MelSpectrogram.from_config(config)(wave[None]))[0]
    np.testing.assert_allclose(np.asarray(ours(wave[None]))[0], expected, atol=1e-3)
    np.testing.assert_allclose(_log_mel_in_int8_tflite(ours, wave, tmp_path / "ours"), expected, atol=0.05)


def _cli(*args, env, check=True):
    result = subprocess.run(
        [sys.executable, "-m", "seqgraph", "speech", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("speech_app")
    env = {**os.environ, "SEQGRAPH_CACHE": str(root / "cache")}
    run = root / "run"
    _cli(
        "train",
        "--synthetic-takes",
        "6",
        "--utterances",
        "48",
        "--valid-utterances",
        "16",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        *TINY,
        "--utterance-norm",  # exported and converted with the rest
        "--out",
        run,
        "--progress",
        "epoch",
        env=env,
    )
    return root, run, env


def test_train_writes_metrics_loss_plot_and_model(trained):
    _, run, _ = trained
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0 <= metrics["cer"] and metrics["wer"] >= 0 and metrics["training_utterances"] == 48
    assert len(metrics["loss"]) == 1 and np.isfinite(metrics["loss"][0])
    assert (run / "loss.png").stat().st_size > 1000 and (run / "model.keras").exists()
    assert len(json.loads((run / "config.json").read_text())["stats"][0]) == 40


def test_evaluate_writes_wer_cer_and_digit_accuracy(trained):
    _, run, env = trained
    out = _cli("evaluate", "--run", run, "--utterances", "20", env=env).stdout
    report = json.loads((run / "eval.json").read_text())
    for key in ("wer", "cer", "digit_accuracy", "per_speaker_wer"):
        assert key in report
    assert report["utterances"] == 20 and report["isolated_digits"] == 40  # takes 0-3 of 10 digits
    assert len(report["isolated_errors"]) == round((1 - report["digit_accuracy"]) * 40)
    assert "isolated digits (40)" in out


def test_transcribe_prints_one_line_per_file_and_names_a_bad_one(trained):
    root, run, env = trained
    soundfile.write(root / "seven.flac", speech.synthetic_digits(takes=6, seed=0)[7].audio, 8000)
    lines = _cli("transcribe", "--run", run, root / "seven.flac", env=env).stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{root / 'seven.flac'}: ")
    (root / "noise.wav").write_text("not audio")
    result = _cli("transcribe", "--run", run, root / "noise.wav", env=env, check=False)
    assert result.returncode == 2 and "noise.wav: not a readable audio file" in result.stderr


def test_say_writes_one_wav_per_text_that_transcribe_reads(trained):
    root, run, env = trained
    out = root / "said"
    _cli("say", "--out-dir", out, "three one four", "nine", env=env)
    audio, rate = soundfile.read(out / "three_one_four.wav")
    assert (
        rate == 8000 and 1.0 < len(audio) / rate < 4.0 and 0.7 < np.abs(audio).max() < 0.81
    )  # peak 0.8, 16-bit rounding
    assert soundfile.info(out / "nine.wav").duration < len(audio) / rate
    lines = _cli("transcribe", "--run", run, out / "nine.wav", env=env).stdout.strip().splitlines()
    assert lines[0].startswith(f"{out / 'nine.wav'}: ")
    assert _cli("say", "--out-dir", out, " ", env=env, check=False).returncode == 2


def test_export_serves_text_and_converts_to_builtin_tflite(trained):
    import tensorflow as tf

    root, run, env = trained
    out = root / "saved_models" / "speech"
    _cli("export", "--run", run, "--out", out, "--utterances", "4", env=env)
    report = json.loads((out / "1" / "export.json").read_text())
    assert report["saved_model"]["wer"] == report["keras"]["wer"]
    assert report["saved_model"]["max_abs_error"] < 1e-3 and report["tflite_float"]["max_abs_error"] < 1e-3
    assert (out / "1" / "speech.tflite").exists() and (out / "1" / "speech_int8.tflite").exists()
    serve = tf.saved_model.load(str(out / "1")).signatures["serving_default"]
    wave = speech.synthetic_digits(takes=6, seed=0)[3].audio
    batch = np.zeros((2, len(wave)), np.float32)
    half = len(wave) // 2
    batch[0], batch[1, :half] = wave, wave[:half]
    result = serve(waveform=tf.constant(batch), lengths=tf.constant([len(wave), half]))
    assert result["text"].dtype == tf.string and result["text"].shape == (2,)
    with pytest.raises(tf.errors.InvalidArgumentError, match="must not exceed"):
        serve(waveform=tf.constant(batch), lengths=tf.constant([len(wave) + 1, half]))
