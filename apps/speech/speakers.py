"""``seqgraph speech leave-speaker-out``: a digit model per speaker, trained on every other
speaker and scored on that one (connected digits, greedy and with the digit grammar)."""

import dataclasses
import json
from pathlib import Path

import numpy as np

from seqgraph.apps.common import run_status, write_json
from seqgraph.datasets import speech


def leave_speaker_out(config, out=None, distribute="default", progress="bar", overwrite=False, test_utterances=500):
    """Train one run per speaker of the digit corpus (``config.data_dir``: FSDD's five speakers)
    in ``out/<speaker>/``, each with that speaker held out (``--test-speaker``), and score each
    on ``test_utterances`` connected digits made from the held-out speaker's recordings, decoded
    greedily and with ``--grammar digits``. Finished runs are kept (the protocol resumes where it
    stopped); ``out/leave_speaker_out.json`` gets each speaker's WER and CER, their mean and the
    worst.

    Args:
        config: a ``SpeechConfig`` (``test_speaker`` is set per run).
        out: the protocol's folder (default ``runs/speech/leave-speaker-out``).
        distribute, progress, overwrite: as for ``train`` (``overwrite`` retrains every run).
        test_utterances: connected test utterances per speaker.

    Returns:
        The summary written to leave_speaker_out.json.
    """
    from seqgraph.apps.speech.evaluate import evaluate
    from seqgraph.apps.speech.train import train

    out = Path(out or "runs/speech/leave-speaker-out")
    speakers = sorted({u.speaker for u in speech.isolated_digits(config.data_dir, config.synthetic_takes)})
    results = {}
    for speaker in speakers:
        run = out / speaker
        if overwrite or run_status(run) != "finished":
            print(f"== {speaker}: training on {', '.join(s for s in speakers if s != speaker)}")
            train(dataclasses.replace(config, test_speaker=speaker), run, distribute, progress, overwrite)
        greedy = evaluate(run, utterances=test_utterances)
        grammar = evaluate(run, utterances=test_utterances, grammar="digits")
        results[speaker] = {
            "wer": greedy["wer"],
            "cer": greedy["cer"],
            "wer_digit_grammar": grammar["wer"],
            "cer_digit_grammar": grammar["cer"],
            "training_s": json.loads((run / "metrics.json").read_text()).get("wall_time_s"),
        }
    summary = {"speakers": results, "utterances_per_speaker": test_utterances, "data": config.data_dir or "espeak"}
    for key in ("wer", "wer_digit_grammar"):
        values = [r[key] for r in results.values()]
        summary[f"mean_{key}"], summary[f"worst_{key}"] = float(np.mean(values)), float(np.max(values))
    write_json(out / "leave_speaker_out.json", summary)
    print(f"{'held-out speaker':<20}{'WER greedy':>12}{'WER grammar':>13}")
    for speaker, r in results.items():
        print(f"{speaker:<20}{r['wer']:>12.4f}{r['wer_digit_grammar']:>13.4f}")
    print(f"{'mean':<20}{summary['mean_wer']:>12.4f}{summary['mean_wer_digit_grammar']:>13.4f}")
    print(f"{'worst':<20}{summary['worst_wer']:>12.4f}{summary['worst_wer_digit_grammar']:>13.4f}")
    print(f"wrote {out / 'leave_speaker_out.json'}")
    return summary
