"""``seqgraph speech export``: the serving signatures of the recogniser, and its export plan."""

from pathlib import Path

import numpy as np
import tensorflow as tf

from seqgraph import layers
from seqgraph.apps import export as ex
from seqgraph.apps.client import Server, text
from seqgraph.apps.speech.evaluate import held_out, load_run, transcript_line
from seqgraph.datasets import speech


def serving_functions(model):
    """``(input_signature, serving_default, tflite input_signature, tflite)``.

    TF Serving gets text: greedy CTC decoding and the characters joined in the graph (a bad
    ``lengths`` is an error response). TFLite has no string builtins, so its signature returns
    the character ids (-1 padded) for the host to map through ``datasets.speech.ALPHABET``
    (``datasets.speech.decode``), and takes one utterance at a time (a Keras RNN becomes a
    builtin WHILE loop only with a fixed batch size).
    """
    table = tf.constant(["", ""] + list(speech.ALPHABET))  # index = id + 1: padding -1 and blank 0 -> ""

    def recognise(waveform, lengths):
        out = model({"waveform": waveform, "lengths": lengths}, training=False)
        ids = layers.ctc_greedy_decode(out["logits"], out["lengths"])
        return out, ids

    def serve(waveform, lengths):
        checks = [
            tf.debugging.assert_non_negative(lengths, message="lengths must be >= 0"),
            tf.debugging.assert_less_equal(
                lengths, tf.shape(waveform)[1], message="lengths must not exceed the waveform's samples"
            ),
            tf.debugging.assert_equal(
                tf.shape(lengths)[0], tf.shape(waveform)[0], message="lengths needs one entry per waveform"
            ),
            tf.debugging.assert_all_finite(waveform, "waveform must be finite (no NaN or Inf)"),
        ]
        with tf.control_dependencies(checks):
            out, ids = recognise(waveform, lengths)
        text = tf.strings.reduce_join(tf.gather(table, ids + 1), axis=1)
        return {"text": text, "logits": out["logits"], "logit_lengths": out["lengths"]}

    def lite(waveform, lengths):
        out, ids = recognise(waveform, lengths)
        return {"ids": ids, "logits": out["logits"], "logit_lengths": out["lengths"]}

    signature = [tf.TensorSpec((None, None), tf.float32, "waveform"), tf.TensorSpec((None,), tf.int32, "lengths")]
    lite_signature = [tf.TensorSpec((1, None), tf.float32, "waveform"), tf.TensorSpec((1,), tf.int32, "lengths")]
    return signature, serve, lite_signature, lite


def alphabet_file():
    """``alphabet.txt`` for a device app: line i is the character of id i of the TFLite output
    ``ids`` (line 0 is the CTC blank, written ``<blank>``; one line holds a single space, the word
    separator: read lines without stripping them); -1 is padding."""
    return "".join(f"{c}\n" for c in ["<blank>", *speech.ALPHABET])


def export(
    run,
    out="saved_models/speech",
    data_dir=None,
    utterances=100,
    int8="dynamic",
    calibration_utterances=100,
    label="stable",
    serving_base=None,
):
    """Export ``run``'s model: a SavedModel for TF Serving and TFLite float and int8 models, each
    checked on ``utterances`` held-out utterances (connected digits for a digit run), one at a time
    (WER, largest logit difference from Keras) before it is published.

    Args:
        run: a run folder written by ``train``.
        out: the export base, ``<out>/<version>/``.
        label: the version label the new version gets in models.config (``stable``, ``canary``).
        serving_base: the folder holding the apps inside TF Serving (default ``/models``).
        data_dir: the FSDD folder (default: the run's).
        utterances: held-out utterances for the checks.
        int8: ``dynamic`` (int8 weights, activations quantised per call) or ``static`` (int8
            activations too, calibrated on ``calibration_utterances`` training utterances).
        calibration_utterances: training utterances for static calibration.

    Returns:
        The report written to ``<out>/<version>/export.json``.
    """
    import jiwer

    config, _, model = load_run(run)
    train_set, test_set, _ = held_out(config, data_dir, utterances)
    references = [u.transcript for u in test_set]
    signature, serve, lite_signature, lite = serving_functions(model)

    def feed(u):
        wave = u.load(config.sample_rate)
        return {"waveform": wave[None], "lengths": np.array([len(wave)], np.int32)}

    def keras_outputs(inputs):
        out = model(inputs, training=False)
        ids = np.asarray(layers.ctc_greedy_decode(out["logits"], out["lengths"]))
        return {"logits": np.asarray(out["logits"]), "ids": ids}

    def wer(outputs):
        texts = [o["text"][0].decode() if "text" in o else speech.decode(o["ids"][0]) for o in outputs]
        return {"wer": float(jiwer.wer(references, texts))}

    def representative():
        for u in train_set[:calibration_utterances]:
            yield feed(u)

    plan = ex.ExportPlan(
        app="speech",
        model=model,
        signatures={"serving_default": (serve, signature)},
        lite=(lite, lite_signature),
        examples=[feed(u) for u in test_set],
        reference=keras_outputs,
        score=wer,
        compare="logits",
        described=f"{len(test_set)} held-out utterances, one at a time",
        tolerance=1e-3,
        int8=int8,
        representative=representative,
        lite_files={"alphabet.txt": alphabet_file()},
        lite_metadata={"alphabet": ["<blank>", *speech.ALPHABET], "blank": 0, "sample_rate": config.sample_rate},
        batching=True,
        pad_batches=True,
    )
    return ex.export(plan, Path(out), label, serving_base)


def query(inputs, server="localhost:8501", grpc=False, model="speech", label=None, timeout=30.0, sample_rate=8000):
    """``seqgraph speech query``: transcribe the audio files ``inputs`` (WAV, FLAC, OGG; any rate,
    mixed to mono and resampled to the served model's ``sample_rate``, as ``transcribe`` does) on
    a TF Serving server, in one request (zero-padded, with ``lengths``), and print the lines
    ``transcribe`` prints. Returns the lines."""
    batch, lengths = speech.pad_waveforms([speech.read_audio(p, sample_rate) for p in inputs])
    out = Server(server, model, label, grpc, timeout).predict({"waveform": batch, "lengths": lengths})
    lines = [transcript_line(path, t) for path, t in zip(inputs, text(out["text"]))]
    print("\n".join(lines))
    return lines
