"""``seqgraph speech evaluate``, ``transcribe`` and ``say``: a trained run on held-out digits, on
audio files, and test recordings spoken by eSpeak NG."""

from pathlib import Path

import numpy as np

from seqgraph.apps.common import atomic_path, load_model, run_config, write_json
from seqgraph.apps.speech.config import SpeechConfig
from seqgraph.apps.speech.model import score, transcribe_batch
from seqgraph.datasets import speech


def load_run(run):
    """``(config, facts, model)`` of a run folder: its SpeechConfig, the facts config.json keeps
    (the feature statistics) and the model."""
    config, facts = run_config(SpeechConfig, run, "speech")
    return config, facts, load_model(run)


def held_out(config, data_dir=None, utterances=500):
    """``(train digits, test digits, connected test utterances)`` of a run (seed fixed)."""
    train_digits, test_digits = speech.digit_corpus(data_dir or config.data_dir, config.synthetic_takes)
    return train_digits, test_digits, speech.connected_digits(test_digits, utterances, seed=20_000)


def evaluate(run, data_dir=None, utterances=500, beam=0):
    """WER and CER of ``run``'s model on ``utterances`` connected digits built from the held-out
    takes (per speaker too) and its accuracy on the isolated held-out takes; writes
    ``run/eval.json``.

    Args:
        run: a run folder written by ``train``.
        data_dir: the FSDD folder (default: the run's).
        utterances: connected test utterances.
        beam: beam width (0: greedy decoding).

    Returns:
        The report written to eval.json.
    """
    import jiwer

    config, _, model = load_run(run)
    data_dir = data_dir or config.data_dir
    _, test_digits, test_set = held_out(config, data_dir, utterances)
    result = score(model, test_set, beam)
    per_speaker = {}
    for speaker in sorted({u.speaker for u in test_set}):
        chosen = [i for i, u in enumerate(test_set) if u.speaker == speaker]
        per_speaker[speaker] = float(
            jiwer.wer([test_set[i].transcript for i in chosen], [result["hypotheses"][i] for i in chosen])
        )
    isolated = transcribe_batch(model, test_digits, beam)
    digit_accuracy = float(np.mean([h == u.transcript for h, u in zip(isolated, test_digits)]))
    report = {
        "wer": result["wer"],
        "cer": result["cer"],
        "digit_accuracy": digit_accuracy,
        "utterances": len(test_set),
        "isolated_digits": len(test_digits),
        "per_speaker_wer": per_speaker,
        "data": "fsdd" if data_dir else "espeak",
        "beam": beam,
        "examples": [
            {"reference": u.transcript, "hypothesis": h} for u, h in list(zip(test_set, result["hypotheses"]))[:10]
        ],
        "isolated_errors": [
            {"file": str(u.path or ""), "reference": u.transcript, "hypothesis": h}
            for u, h in zip(test_digits, isolated)
            if h != u.transcript
        ],
    }
    write_json(Path(run) / "eval.json", report)
    for speaker, wer in per_speaker.items():
        print(f"{speaker:>24}  WER {wer:.4f}")
    print(
        f"connected digits ({len(test_set)} utterances): WER {report['wer']:.4f}, CER {report['cer']:.4f}; "
        f"isolated digits ({len(test_digits)}): accuracy {digit_accuracy:.4f}\nwrote {run}/eval.json"
    )
    return report


def transcribe(run, inputs, beam=0):
    """Print the text of each audio file in ``inputs`` (WAV, FLAC, OGG; any rate, mixed to mono),
    one line each: ``<file>: <text>``. Returns the lines."""
    _, _, model = load_run(run)
    utterances = [speech.Utterance("", path=Path(p)) for p in inputs]
    lines = [transcript_line(path, text) for path, text in zip(inputs, transcribe_batch(model, utterances, beam))]
    print("\n".join(lines))
    return lines


def transcript_line(path, text):
    """The line ``transcribe`` and ``query`` print for one file."""
    return f"{path}: {text}"


def say(texts, out_dir, voices=("en-us+f3", "en-gb-x-rp+m3", "en-029+m1")):
    """One WAV per text in ``out_dir`` (``<words joined by _>.wav``, 8 kHz): the words spoken one
    at a time by eSpeak NG (``voices`` taken in turn) and joined by 0.1-0.2 s pauses, the way the
    training utterances are built. Returns the paths."""
    import soundfile

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, text in enumerate(texts):
        if not text.strip():
            raise speech.SpeechDataError("say: an empty text")
        path = out / f"{'_'.join(text.split())}.wav"
        audio = speech.spoken_words(text, voices[i % len(voices)], seed=i)
        with atomic_path(path) as tmp:
            soundfile.write(tmp, audio, speech.SAMPLE_RATE, subtype="PCM_16", format="WAV")
        print(f"{path}: {text!r} ({len(audio) / speech.SAMPLE_RATE:.2f} s)")
        paths.append(path)
    return paths
