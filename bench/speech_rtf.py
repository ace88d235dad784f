"""Real-time factor of the exported speech models on this CPU: seconds of compute per second of
audio for the int8 and float TFLite files (LiteRT, one utterance per call, as on a device), with
the float SavedModel beside them. Utterances are connected eSpeak NG digits of 1-10 s.

    seqgraph speech export --run RUN_DIR        # writes saved_models/speech/
    python -m bench.speech_rtf [--models saved_models/speech] [--repeats 10]
"""

import argparse
from pathlib import Path

DURATIONS = (1, 2, 5, 10)  # seconds


def utterance(seconds, seed=0):
    """Connected synthetic digits trimmed or tiled to exactly ``seconds``."""
    import numpy as np

    from seqgraph.datasets import speech

    audio = np.concatenate(
        [u.waveform() for u in speech.connected_digits(speech.synthetic_digits(takes=20, seed=0), 8, seed=seed)]
    )
    samples = int(seconds * speech.SAMPLE_RATE)
    return np.resize(audio, samples).astype(np.float32)


def main(argv=None):
    import numpy as np
    import tensorflow as tf

    from bench.common import interleaved, write_results
    from seqgraph.apps.export import LiteModel

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="saved_models/speech")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    base = Path(args.models)
    versions = [p for p in base.iterdir() if p.name.isdigit()] if base.is_dir() else []
    if not versions:
        raise SystemExit(f"error: no export in {base}: run `seqgraph speech export` first")
    version = max(versions, key=lambda p: int(p.name))
    lite = {
        kind: LiteModel((version / name).read_bytes())
        for kind, name in (("int8", "speech_int8.tflite"), ("float", "speech.tflite"))
    }
    served = tf.saved_model.load(str(version)).signatures["serving_default"]

    rows = []
    for seconds in DURATIONS:
        wave = utterance(seconds)
        feeds = {"waveform": wave[None], "lengths": np.array([len(wave)], np.int32)}
        times = interleaved(
            {
                "int8": lambda: lite["int8"](feeds),
                "float": lambda: lite["float"](feeds),
                "saved_model": lambda: served(
                    waveform=tf.constant(feeds["waveform"]), lengths=tf.constant(feeds["lengths"])
                )["text"].numpy(),
            },
            repeats=args.repeats,
        )
        row = {
            "seconds": seconds,
            **{f"{k}_rtf": v / seconds for k, v in times.items()},
            "int8_vs_float": times["int8"] / times["float"],
        }
        rows.append(row)
        print(
            f"{seconds:>3} s audio: RTF int8 {row['int8_rtf']:.4f}, float {row['float_rtf']:.4f}, "
            f"SavedModel {row['saved_model_rtf']:.4f} (int8 / float time {row['int8_vs_float']:.2f})",
            flush=True,
        )
    write_results(
        "speech_rtf", {"models": str(version), "rows": rows, "target": "int8 RTF <= 0.01 (1 s of audio in <= 10 ms)"}
    )


if __name__ == "__main__":
    main()
