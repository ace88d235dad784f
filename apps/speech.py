"""Speech recognition: waveform -> log-mel features (in the model) -> convolutional subsampling ->
truncated multi-head self-attention blocks -> bidirectional peephole LSTM -> CTC over characters.

    python -m apps.speech train [--data-dir FSDD_DIR] --out RUN_DIR
    python -m apps.speech evaluate --run RUN_DIR [--data-dir FSDD_DIR]
    python -m apps.speech transcribe --run RUN_DIR FILE...
    python -m apps.speech say --out-dir DIR "three one four" ...   (test WAVs from eSpeak NG)
    python -m apps.speech export --run RUN_DIR [--out saved_models/speech]
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from apps.common import atomic_path, load_run, run_dir, save_keras, strategy, write_json  # noqa: E402
from datasets import speech  # noqa: E402

NUM_CLASSES = len(speech.ALPHABET) + 1  # + the CTC blank, class 0
HOP = 80  # samples between feature frames: 10 ms at 8 kHz
SUBSAMPLING = 4  # two stride-2 convolutions: one model step per 40 ms
MODEL_OPTIONS = ("mels", "dim", "blocks", "heads", "window", "ffn_dim", "lstm_units", "dropout")


# ----------------------------------------------------------------------------- model
def log_mel(mels=40):
    """Keras' MelSpectrogram (25 ms Hann windows every 10 ms, 20 Hz - 4 kHz), in dB, with its mel
    projection kept in float by int8 TFLite (``layers.MelSpectrogram``). Its top_db clip takes the
    maximum over the whole batch, which would make an utterance's features depend on its
    batch-mates: 200 dB is beyond the 1e-10 power floor's range, so it never clips."""
    import layers

    return layers.MelSpectrogram(fft_length=256, sequence_stride=HOP, sequence_length=200,
                                 sampling_rate=speech.SAMPLE_RATE, num_mel_bins=mels, min_freq=20.0,
                                 max_freq=speech.SAMPLE_RATE / 2, top_db=200.0, name="log_mel")


def frames_for(samples):
    """Feature frames of ``samples`` samples (the STFT is centred: one frame per hop, plus one)."""
    return samples // HOP + 1


def steps_for(frames):
    """Model steps after the two stride-2 convolutions (padded by one on each side)."""
    return (frames + SUBSAMPLING - 1) // SUBSAMPLING


def build_model(stats, mels=40, dim=96, blocks=2, heads=4, window=8, ffn_dim=192, lstm_units=96, dropout=0.1,
                spec_augment=True):
    """``{"waveform" [B, S] float32, "lengths" [B] int32}`` -> ``{"logits" [B, T, classes],
    "lengths" [B]}``. Each waveform is scaled to peak 1 first; ``stats`` (mean, variance per mel band, from training audio) standardise
    the features; frames past an utterance's end are zeroed, so padding never reaches its
    outputs. ``window`` is the attention radius in model steps (8 = +-320 ms)."""
    import keras

    import layers

    waveform = keras.Input((None,), name="waveform")
    lengths = keras.Input((), dtype="int32", name="lengths")
    # Samples past an utterance's end are zeroed and 256 zeros appended, so its last frames see
    # zeros whether it comes alone (the STFT would reflect its end) or padded in a batch.
    x = layers.SequenceMask(carry_mask=False, name="sample_mask")([keras.layers.Reshape((-1, 1))(waveform), lengths])
    # Peak-normalised: a recording's gain would otherwise shift every log-mel value.
    x = x / keras.ops.maximum(keras.ops.max(keras.ops.abs(x), axis=1, keepdims=True), 1e-4)
    x = keras.layers.Reshape((-1,))(keras.layers.ZeroPadding1D((0, 256))(x))
    x = keras.layers.Permute((2, 1), name="frames_first")(log_mel(mels)(x))
    x = layers.Standardize(*stats, clip=6.0, name="standardize")(x)
    if spec_augment:
        x = layers.SpecAugment(name="spec_augment")(x)
    frame_lengths = frames_for(lengths)
    x = layers.SequenceMask(carry_mask=False, name="frame_mask")([x, frame_lengths])
    for i in range(2):  # explicit padding: 'same' would pad the left by 0 or 1 with the length's parity
        x = keras.layers.ZeroPadding1D(1)(x)
        x = keras.layers.Conv1D(dim, 3, strides=2, activation="gelu", name=f"subsample_{i}")(x)
    step_lengths = steps_for(frame_lengths)
    x = layers.SequenceMask(name="step_mask")([x, step_lengths])  # its mask reaches attention and LSTM
    x = layers.SinusoidalPositionalEncoding(name="positional_encoding")(x)
    for i in range(blocks):
        h = keras.layers.LayerNormalization(epsilon=1e-6)(x)
        h = layers.MultiHeadSelfAttention(heads, dim // heads, window=window, dropout=dropout,
                                          name=f"attention_{i}")(h)
        x = keras.layers.Add()([x, keras.layers.Dropout(dropout)(h)])
        h = keras.layers.LayerNormalization(epsilon=1e-6)(x)
        h = keras.layers.Dense(ffn_dim, activation="gelu")(h)
        x = keras.layers.Add()([x, keras.layers.Dropout(dropout)(keras.layers.Dense(dim)(h))])
    x = keras.layers.Bidirectional(layers.PeepholeLSTM(lstm_units, return_sequences=True), name="bilstm")(x)
    logits = keras.layers.Dense(NUM_CLASSES, name="logits")(keras.layers.Dropout(dropout)(x))
    return keras.Model({"waveform": waveform, "lengths": lengths}, {"logits": logits, "lengths": step_lengths},
                       name="speech_recognizer")


# ----------------------------------------------------------------------------- data
def corpus(args):
    """(train, test) isolated digits: FSDD takes 5-49 / 0-4 with ``--data-dir``, else eSpeak NG
    digits (takes 0-3 of each digit held out)."""
    if args.data_dir:
        return speech.split_by_take(speech.fsdd(args.data_dir))
    return speech.split_by_take(speech.synthetic_digits(takes=args.synthetic_takes, seed=0), range(4))


def tf_dataset(utterances, batch_size, shuffle=False, seed=0):
    """``({"waveform", "lengths"}, labels padded with -1)`` batches; utterances of similar
    length are batched together (less padding), batches shuffled each pass when ``shuffle``."""
    import tensorflow as tf

    audio = [u.waveform() for u in utterances]
    labels = [speech.encode(u.transcript) for u in utterances]
    order = np.argsort([len(a) for a in audio], kind="stable")
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]

    def batch_arrays(index):
        width = max(len(audio[i]) for i in index)
        wave = np.zeros((len(index), width), np.float32)
        label = np.full((len(index), max(len(labels[i]) for i in index)), -1, np.int32)
        for row, i in enumerate(index):
            wave[row, :len(audio[i])] = audio[i]
            label[row, :len(labels[i])] = labels[i]
        return {"waveform": wave, "lengths": np.array([len(audio[i]) for i in index], np.int32)}, label

    arrays = [batch_arrays(b) for b in batches]
    spec = ({"waveform": tf.TensorSpec((None, None), tf.float32), "lengths": tf.TensorSpec((None,), tf.int32)},
            tf.TensorSpec((None, None), tf.int32))
    ds = tf.data.Dataset.from_generator(lambda: iter(arrays), output_signature=spec)
    if shuffle:
        ds = ds.shuffle(len(arrays), seed=seed, reshuffle_each_iteration=True)
    return ds.prefetch(tf.data.AUTOTUNE), len(arrays)


def feature_stats(utterances, mels, limit=300):
    """Mean and variance of each log-mel band over the frames of up to ``limit`` utterances
    (peak-normalised, as the model sees them)."""
    layer = log_mel(mels)
    frames = [np.asarray(layer((u.waveform() / max(np.abs(u.waveform()).max(), 1e-4))[None]))[0].T
              for u in utterances[:limit]]
    frames = np.concatenate(frames)
    return frames.mean(0).tolist(), np.maximum(frames.var(0), 1e-3).tolist()


# ----------------------------------------------------------------------------- training
def trainer(acoustic):
    """``acoustic`` wrapped for ``fit``: the loss is CTC over each utterance's own number of steps."""
    import keras
    from keras import ops

    import layers

    class CTCTrainer(keras.Model):
        def __init__(self):
            super().__init__()
            self.acoustic = acoustic

        def call(self, inputs, training=False):
            return self.acoustic(inputs, training=training)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            label_lengths = ops.sum(ops.cast(ops.not_equal(y, -1), "int32"), axis=1)
            labels = ops.where(ops.equal(y, -1), ops.zeros_like(y), y)
            return ops.mean(layers.ctc_loss(labels, label_lengths, y_pred["logits"], y_pred["lengths"]))

    return CTCTrainer()


def train(args):
    import keras

    keras.utils.set_random_seed(args.seed)
    train_digits, test_digits = corpus(args)
    out = run_dir("speech", args.out)
    print(f"making {args.utterances} connected-digit utterances from {len(train_digits)} isolated digits")
    train_set = speech.connected_digits(train_digits, args.utterances, seed=args.seed)
    valid_set = speech.connected_digits(test_digits, args.valid_utterances, seed=10_000)
    config = {**{k: v for k, v in vars(args).items() if k != "func"}}
    config["stats"] = feature_stats(train_set, args.mels)
    write_json(out / "config.json", config)
    train_ds, steps = tf_dataset(train_set, args.batch_size, shuffle=True, seed=args.seed)
    valid_ds, valid_steps = tf_dataset(valid_set, args.batch_size)
    with strategy(args.distribute).scope():
        acoustic = build_model(config["stats"], **{k: getattr(args, k) for k in MODEL_OPTIONS})
        model = trainer(acoustic)
        schedule = keras.optimizers.schedules.CosineDecay(0.0, steps * args.epochs, warmup_target=args.lr,
                                                          warmup_steps=max(1, steps * args.epochs // 20))
        model.compile(keras.optimizers.AdamW(schedule, weight_decay=1e-4, clipnorm=5.0))
    start = time.time()
    history = model.fit(train_ds.repeat(), steps_per_epoch=steps, epochs=args.epochs, verbose=args.verbose,
                        validation_data=valid_ds.repeat(), validation_steps=valid_steps,
                        shuffle=False)  # the pipeline reshuffles each pass
    seconds = time.time() - start
    save_keras(acoustic, out / "model.keras")
    scores = score(acoustic, valid_set)
    metrics = {"wer": scores["wer"], "cer": scores["cer"], "epochs": args.epochs, "wall_time_s": seconds,
               "training_utterances": len(train_set), "validation_utterances": len(valid_set),
               "parameters": int(acoustic.count_params()), "data": "fsdd" if args.data_dir else "espeak",
               "loss": [float(v) for v in history.history["loss"]],
               "val_loss": [float(v) for v in history.history["val_loss"]]}
    write_json(out / "metrics.json", metrics)
    _plot_loss(history.history, out / "loss.png")
    print(f"held-out connected digits: WER {metrics['wer']:.4f}, CER {metrics['cer']:.4f} ({seconds:.0f} s)\n"
          f"wrote {out}/metrics.json, loss.png, model.keras")
    return metrics


def _plot_loss(history, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(history["loss"], label="training CTC loss")
    ax.plot(history["val_loss"], label="held-out CTC loss")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


# ----------------------------------------------------------------------------- decoding and scores
def transcribe_batch(model, utterances, beam=0, batch_size=32):
    """Texts for ``utterances`` (greedy, or beam search of width ``beam``)."""
    from keras import ops

    import layers

    texts = [None] * len(utterances)
    ds, _ = tf_dataset(utterances, batch_size)
    order = np.argsort([len(u.waveform()) for u in utterances], kind="stable")
    done = 0
    for inputs, _ in ds:
        out = model(inputs, training=False)
        if beam:
            ids = ops.convert_to_numpy(layers.ctc_beam_decode(out["logits"], out["lengths"], beam_width=beam)[0][0])
        else:
            ids = ops.convert_to_numpy(layers.ctc_greedy_decode(out["logits"], out["lengths"]))
        for row in ids:
            texts[order[done]] = speech.decode(row)
            done += 1
    return texts


def score(model, utterances, beam=0):
    """WER and CER (jiwer) of ``model`` on ``utterances``, with the hypotheses."""
    import jiwer

    hypotheses = transcribe_batch(model, utterances, beam)
    references = [u.transcript for u in utterances]
    return {"wer": float(jiwer.wer(references, hypotheses)), "cer": float(jiwer.cer(references, hypotheses)),
            "hypotheses": hypotheses}


def evaluate(args):
    """Connected digits built from the held-out takes (deterministic), scored per speaker; on
    FSDD also the isolated-digit accuracy of takes 0-4."""
    config, model = load_run(args.run)
    data_dir = args.data_dir or config.get("data_dir")
    args_like = argparse.Namespace(data_dir=data_dir, synthetic_takes=config["synthetic_takes"])
    _, test_digits = corpus(args_like)
    test_set = speech.connected_digits(test_digits, args.utterances, seed=20_000)
    result = score(model, test_set, args.beam)
    import jiwer

    per_speaker = {}
    for speaker in sorted({u.speaker for u in test_set}):
        chosen = [i for i, u in enumerate(test_set) if u.speaker == speaker]
        per_speaker[speaker] = float(jiwer.wer([test_set[i].transcript for i in chosen],
                                               [result["hypotheses"][i] for i in chosen]))
    isolated = transcribe_batch(model, test_digits, args.beam)
    digit_accuracy = float(np.mean([h == u.transcript for h, u in zip(isolated, test_digits)]))
    report = {"wer": result["wer"], "cer": result["cer"], "digit_accuracy": digit_accuracy,
              "utterances": len(test_set), "isolated_digits": len(test_digits), "per_speaker_wer": per_speaker,
              "data": "fsdd" if data_dir else "espeak", "beam": args.beam,
              "examples": [{"reference": u.transcript, "hypothesis": h}
                           for u, h in list(zip(test_set, result["hypotheses"]))[:10]],
              "isolated_errors": [{"file": str(u.path or ""), "reference": u.transcript, "hypothesis": h}
                                  for u, h in zip(test_digits, isolated) if h != u.transcript]}
    write_json(Path(args.run) / "eval.json", report)
    for speaker, wer in per_speaker.items():
        print(f"{speaker:>24}  WER {wer:.4f}")
    print(f"connected digits ({len(test_set)} utterances): WER {report['wer']:.4f}, CER {report['cer']:.4f}; "
          f"isolated digits ({len(test_digits)}): accuracy {digit_accuracy:.4f}\nwrote {args.run}/eval.json")
    return report


def transcribe(args):
    config, model = load_run(args.run)
    utterances = [speech.Utterance("", path=Path(p)) for p in args.inputs]
    for path, text in zip(args.inputs, transcribe_batch(model, utterances, args.beam)):
        print(f"{path}: {text}")


def say(args):
    """One WAV per text, spoken by eSpeak NG (voices taken in turn), to try a model on."""
    import soundfile

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(args.texts):
        if not text.strip():
            raise speech.SpeechDataError("say: an empty text")
        path = out / f"{'_'.join(text.split())}.wav"
        audio = speech.spoken_words(text, args.voices[i % len(args.voices)], seed=i)
        with atomic_path(path) as tmp:
            soundfile.write(tmp, audio, speech.SAMPLE_RATE, subtype="PCM_16", format="WAV")
        print(f"{path}: {text!r} ({len(audio) / speech.SAMPLE_RATE:.2f} s)")


# ----------------------------------------------------------------------------- export
def serving_functions(model):
    """(signature, serving_default, tflite). TF Serving gets text: greedy CTC decoding and the
    characters joined in the graph (a bad ``lengths`` is an error response). TFLite has no string
    ops among its builtins, so its signature returns the character ids (-1 padded) for the host to
    map through ALPHABET (``datasets.speech.decode``), and takes one utterance at a time (a Keras
    RNN becomes a builtin WHILE loop only with a fixed batch size)."""
    import tensorflow as tf

    import layers

    table = tf.constant(["", ""] + list(speech.ALPHABET))  # index = id + 1: padding -1 and blank 0 -> ""

    def recognise(waveform, lengths):
        out = model({"waveform": waveform, "lengths": lengths}, training=False)
        ids = layers.ctc_greedy_decode(out["logits"], out["lengths"])
        return out, ids

    def serve(waveform, lengths):
        checks = [tf.debugging.assert_non_negative(lengths, message="lengths must be >= 0"),
                  tf.debugging.assert_less_equal(lengths, tf.shape(waveform)[1],
                                                 message="lengths must not exceed the waveform's samples"),
                  tf.debugging.assert_equal(tf.shape(lengths)[0], tf.shape(waveform)[0],
                                            message="lengths needs one entry per waveform")]
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


def export(args):
    """SavedModel (checked through the loader TF Serving uses) + TFLite float and int8 (checked in
    LiteRT), WER of each on held-out connected digits; each moved into place only after its check."""
    import jiwer
    import tensorflow as tf

    from apps import export as ex

    config, model = load_run(args.run)
    args_like = argparse.Namespace(data_dir=args.data_dir or config.get("data_dir"),
                                   synthetic_takes=config["synthetic_takes"])
    train_digits, test_digits = corpus(args_like)
    test_set = speech.connected_digits(test_digits, args.utterances, seed=20_000)
    references = [u.transcript for u in test_set]
    keras_texts = transcribe_batch(model, test_set)
    keras_logits = []  # one utterance at a time, as the TFLite model runs
    for u in test_set:
        out = model({"waveform": u.waveform()[None], "lengths": np.array([len(u.waveform())], np.int32)})
        keras_logits.append(np.asarray(out["logits"])[0, :int(out["lengths"][0])])
    report = {"utterances": len(test_set), "keras_wer": float(jiwer.wer(references, keras_texts)),
              "sample_rate": speech.SAMPLE_RATE}

    base = Path(args.out)
    version = ex.next_version(base)
    tmp = ex.staging(version)
    signature, serve, lite_signature, lite = serving_functions(model)
    ex.write_saved_model(model, tmp, {"serving_default": (serve, signature), "tflite": (lite, lite_signature)})

    loaded = tf.saved_model.load(str(tmp)).signatures["serving_default"]
    served = []
    for u in test_set:
        wave = u.waveform()[None]
        served.append(loaded(waveform=tf.constant(wave), lengths=tf.constant([wave.shape[1]]))["text"].numpy()[0].decode())
    report["saved_model_wer"] = float(jiwer.wer(references, served))
    if served != keras_texts:
        raise SystemExit(f"error: the SavedModel's text differs from Keras' on "
                         f"{sum(a != b for a, b in zip(served, keras_texts))} utterances")

    def representative():
        for u in train_digits[: args.calibration_utterances]:
            yield {"waveform": u.waveform()[None], "lengths": np.array([len(u.waveform())], np.int32)}

    lite_files = {}
    for kind, content, lite_model in ex.lite_models(tmp, args.int8, representative):
        texts, error = [], 0.0
        for u, expected in zip(test_set, keras_logits):
            out = lite_model({"waveform": u.waveform()[None], "lengths": [len(u.waveform())]})
            texts.append(speech.decode(out["ids"][0]))
            error = max(error, float(np.abs(out["logits"][0, :len(expected)] - expected).max()))
        report[f"tflite_{kind}_wer"] = float(jiwer.wer(references, texts))
        report[f"tflite_{kind}_max_abs_logit_error"] = error
        report[f"tflite_{kind}_bytes"] = len(content)
        lite_files[kind] = content

    report["int8"] = args.int8
    ex.finish_export(tmp, version, "speech", lite_files, report)
    print(f"SavedModel {version} (serving_default: waveform [batch, samples] at {speech.SAMPLE_RATE} Hz + lengths "
          f"-> text, logits), {base}/speech.tflite, {base}/speech_int8.tflite")
    print(f"WER on {len(test_set)} held-out utterances: Keras {report['keras_wer']:.4f}, SavedModel "
          f"{report['saved_model_wer']:.4f}, TFLite float {report['tflite_float_wer']:.4f}, "
          f"int8 {report['tflite_int8_wer']:.4f}")
    return report


# ----------------------------------------------------------------------------- CLI
def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m apps.speech", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train on connected digits, score held-out ones")
    p.add_argument("--data-dir", help="FSDD recordings folder (default: eSpeak NG digits, embedded)")
    p.add_argument("--synthetic-takes", type=int, default=20, help="eSpeak NG takes per digit")
    p.add_argument("--utterances", type=int, default=3000, help="connected-digit training utterances")
    p.add_argument("--valid-utterances", type=int, default=200)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--mels", type=int, default=40)
    p.add_argument("--dim", type=int, default=96)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--window", type=int, default=8, help="attention radius in 40 ms steps (0 = full)")
    p.add_argument("--ffn-dim", type=int, default=192)
    p.add_argument("--lstm-units", type=int, default=96)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="run folder (default runs/speech/<timestamp>)")
    p.add_argument("--distribute", choices=["default", "mirrored", "multiworker"], default="default")
    p.add_argument("--verbose", type=int, default=1)
    p.set_defaults(func=train)

    p = sub.add_parser("evaluate", help="WER/CER on held-out connected digits, isolated-digit accuracy")
    p.add_argument("--run", required=True)
    p.add_argument("--data-dir")
    p.add_argument("--utterances", type=int, default=500)
    p.add_argument("--beam", type=int, default=0, help="beam width (0 = greedy)")
    p.set_defaults(func=evaluate)

    p = sub.add_parser("transcribe", help="print the text of audio files")
    p.add_argument("--run", required=True)
    p.add_argument("--beam", type=int, default=0)
    p.add_argument("inputs", nargs="+")
    p.set_defaults(func=transcribe)

    p = sub.add_parser("say", help="write WAVs of texts spoken word by word by eSpeak NG")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--voices", nargs="+", default=["en-us+f3", "en-gb-x-rp+m3", "en-029+m1"],
                   help="eSpeak NG voices, one per text in turn")
    p.add_argument("texts", nargs="+")
    p.set_defaults(func=say)

    p = sub.add_parser("export", help="SavedModel for TF Serving + TFLite float and int8")
    p.add_argument("--run", required=True)
    p.add_argument("--out", default="saved_models/speech")
    p.add_argument("--data-dir")
    p.add_argument("--utterances", type=int, default=100, help="held-out utterances for the WER checks")
    p.add_argument("--int8", choices=["dynamic", "static"], default="dynamic",
                   help="dynamic: int8 weights, activations quantised per call; static: int8 activations "
                        "too, calibrated on training digits")
    p.add_argument("--calibration-utterances", type=int, default=100)
    p.set_defaults(func=export)

    args = parser.parse_args(argv)
    if getattr(args, "window", None) == 0:
        args.window = None
    try:
        return args.func(args)
    except speech.SpeechDataError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
