"""The open-vocabulary task end to end: the eSpeak NG sentence corpus (``seqgraph speech
synthesize``), a recogniser trained on it (the app's own ``train``, whose wall time is the one
reported), scored on the test split (sentences AND voices never trained on) greedily, with
Keras' character beam and with a 3-gram of the training text, and on two diagnostic splits that
tell the two gaps apart: unseen sentences said by training voices, and training sentences said by
unseen voices (300 utterances each, drawn with their own seed).

    python -m bench.speech_sentences --data data/espeak-sentences --out runs/speech/sentences \\
        -- --dim 128 --ffn-dim 256 --lstm-units 128 --vtlp --speed-perturbation

Options after ``--`` go to ``seqgraph speech train``. A finished run is scored again, not
retrained. Writes bench/results/speech_sentences.json (the earlier result moves to its
``history``).
"""

import argparse
import json
import sys
from pathlib import Path

DIAGNOSTIC_SEED = 123


def diagnostic_splits(data, utterances=300, sample_rate=8000):
    """``{name: manifest}``: ``seen_voices`` (test sentences, training voices) and
    ``seen_sentences`` (training sentences, test voices), written under ``data`` once."""
    import numpy as np
    import soundfile

    from seqgraph.datasets import speech

    data = Path(data)
    train_text = (data / "train_sentences.txt").read_text().splitlines()
    test_text = [s for s in speech.lee_sentences() if s not in set(train_text)]
    train_voices, test_voices = speech.sentence_voices()
    espeak = speech.ESpeak()
    manifests = {}
    splits = (("seen_voices", test_text, train_voices), ("seen_sentences", train_text, test_voices))
    for k, (name, texts, voices) in enumerate(splits):
        rng = np.random.default_rng([DIAGNOSTIC_SEED, k])
        manifest = data / f"diagnostic_{name}.jsonl"
        manifests[name] = manifest
        if manifest.exists():
            continue
        rows = []
        for i in range(utterances):
            text, voice = texts[rng.integers(len(texts))], voices[rng.integers(len(voices))]
            audio = speech.say_sentence(espeak, text, voice, rng, sample_rate)
            path = Path("audio") / f"diagnostic-{name}-{i:05d}.flac"
            soundfile.write(data / path, audio, sample_rate, subtype="PCM_16")
            rows.append({"audio_filepath": str(path), "text": text, "speaker": voice})
        tmp = manifest.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        tmp.replace(manifest)
    return manifests


def main(argv=None):
    from bench.common import RESULTS, write_results
    from seqgraph.apps.common import run_status
    from seqgraph.apps.speech import decoding
    from seqgraph.apps.speech.evaluate import evaluate
    from seqgraph.cli import main as seqgraph
    from seqgraph.datasets import speech

    argv = sys.argv[1:] if argv is None else list(argv)
    train_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the corpus folder (written by synthesize if missing)")
    parser.add_argument("--out", required=True, help="the training run's folder")
    parser.add_argument("--utterances", type=int, default=5000, help="training utterances to synthesise")
    args = parser.parse_args(argv)

    train_manifest, test_manifest = speech.espeak_sentences(args.data, utterances=args.utterances)
    splits = {"test_unseen_sentences_and_voices": test_manifest}
    splits.update({f"diagnostic_{k}": v for k, v in diagnostic_splits(args.data).items()})
    run = Path(args.out)
    command = ["speech", "train", "--manifest", str(train_manifest), "--progress", "epoch", "--out", str(run)]
    if run_status(run) != "finished":
        code = seqgraph(command + train_args)
        if code:
            raise SystemExit(code)
    metrics = json.loads((run / "metrics.json").read_text())
    lm, _ = decoding.build_lm(Path(args.data) / "train_sentences.txt", Path(args.data) / "lm" / "train_sentences.arpa")
    scores = {}
    for name, manifest in splits.items():
        scores[name] = {"greedy": evaluate(run, manifest=manifest)}
        if name.startswith("test"):
            scores[name]["beam 32 (characters)"] = evaluate(run, manifest=manifest, beam=32)
            scores[name]["beam 32 + 3-gram of the training sentences"] = evaluate(run, manifest=manifest, lm=lm)
        for report in scores[name].values():
            for key in ("examples", "data"):
                report.pop(key, None)
    previous = RESULTS / "speech_sentences.json"
    history = []
    if previous.exists():
        old = json.loads(previous.read_text())
        history = old.pop("history", []) + [old]
    config = json.loads((run / "config.json").read_text())
    write_results(
        "speech_sentences",
        {
            "command": "python -m bench.speech_sentences " + " ".join(argv + ["--"] + train_args),
            "train": "seqgraph " + " ".join(command + train_args),
            "options": {k: v for k, v in config.items() if k not in ("stats", "seqgraph_version")},
            "training_wall_time_s": metrics["wall_time_s"],
            "parameters": metrics["parameters"],
            "final_loss": metrics["loss"][-1],
            "final_val_loss": metrics["val_loss"][-1],
            "validation_seen_voices_and_sentences": {"wer": metrics["wer"], "cer": metrics["cer"]},
            **scores,
            "target": "CER <= 15% on unseen sentences and voices (greedy), trained in < 60 min",
            "history": history,
        },
    )
    for name, by_decoding in scores.items():
        for how, report in by_decoding.items():
            print(f"{name:<36} {how:<45} WER {report['wer']:.4f}  CER {report['cer']:.4f}")
    print(f"training: {metrics['wall_time_s'] / 60:.1f} min")


if __name__ == "__main__":
    main()
