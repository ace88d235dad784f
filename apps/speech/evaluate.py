"""``seqgraph speech evaluate``, ``transcribe`` and ``say``: a trained run on held-out digits, on
audio files, and test recordings spoken by eSpeak NG."""

from pathlib import Path

import numpy as np

from seqgraph.apps.common import atomic_path, load_model, run_config, write_json
from seqgraph.apps.speech.config import SpeechConfig
from seqgraph.apps.speech.model import score, transcribe_batch
from seqgraph.apps.speech.train import corpus
from seqgraph.datasets import speech


def load_run(run):
    """``(config, facts, model)`` of a run folder: its SpeechConfig, the facts config.json keeps
    (the feature statistics) and the model."""
    config, facts = run_config(SpeechConfig, run, "speech")
    return config, facts, load_model(run)


def held_out(config, data_dir=None, utterances=500):
    """``(training utterances, held-out utterances, isolated test digits)`` of a run: for a digit
    run, its isolated training digits, ``utterances`` connected digits made from its held-out takes
    (seed fixed) and those takes; for a corpus run (``--manifest``), its training utterances, up to
    ``utterances`` of its held-out ones, and None."""
    if config.manifest:
        train_set, valid_set, _ = corpus(config, quiet=True)
        return train_set, valid_set[:utterances], None
    train_digits, test_digits = speech.digit_corpus(
        data_dir or config.data_dir, config.synthetic_takes, config.test_speaker
    )
    return train_digits, speech.connected_digits(test_digits, utterances, seed=20_000), test_digits


def word_decoder(lm=None, lexicon=None, grammar=None, beam=0, lm_weight=2.0, word_score=0.0):
    """The ``decoding.WordDecoder`` that ``--lm``/``--lexicon`` or ``--grammar digits`` ask for,
    or None (decoding by characters)."""
    import tempfile

    from seqgraph.apps.common import ConfigError, native_messages_hidden
    from seqgraph.apps.speech import decoding

    if grammar:
        if lm or lexicon:
            raise ConfigError("--grammar digits brings its own model and lexicon: leave out --lm and --lexicon")
        with tempfile.TemporaryDirectory(prefix="seqgraph-grammar-") as folder:  # KenLM reads it when made
            return word_decoder(*decoding.digit_grammar(folder), beam=beam, lm_weight=lm_weight, word_score=word_score)
    if bool(lm) != bool(lexicon):
        if lm and decoding.lexicon_path(lm).exists():
            lexicon = decoding.lexicon_path(lm)  # build-lm writes it beside the model
        else:
            raise ConfigError("--lm and --lexicon go together (build-lm writes both)")
    if not lm:
        return None
    with native_messages_hidden():  # KenLM prints its loading progress
        return decoding.WordDecoder(lm, lexicon, beam or 32, lm_weight, word_score)


def evaluate(
    run,
    data_dir=None,
    utterances=500,
    beam=0,
    manifest=None,
    skip_bad=False,
    lm=None,
    lexicon=None,
    grammar=None,
    lm_weight=2.0,
    word_score=0.0,
):
    """WER and CER of ``run``'s model, overall and per speaker, on the utterances of ``manifest``,
    or else on the run's held-out utterances (a digit run: ``utterances`` connected digits built
    from the held-out takes, and its accuracy on the isolated takes); writes ``run/eval.json``.

    Args:
        run: a run folder written by ``train``.
        data_dir: the FSDD folder (default: the run's).
        utterances: held-out utterances to score (not with ``manifest``: all of it is).
        beam: beam width (0: greedy decoding; with a language model, 32).
        manifest: a test corpus in any format ``train --manifest`` reads.
        skip_bad: leave out the manifest's bad lines and unreadable audio instead of stopping.
        lm, lexicon: decode words with this language model (ARPA or KenLM binary) and lexicon.
        grammar: ``"digits"``: decode sequences of digit words only.
        lm_weight, word_score: the language model's weight, and a score per word.

    Returns:
        The report written to eval.json.
    """
    import jiwer

    config, _, model = load_run(run)
    words = word_decoder(lm, lexicon, grammar, beam, lm_weight, word_score)
    if manifest:
        test_set, skipped = speech.read_manifest(manifest, skip_bad)
        test_digits, data = None, str(manifest)
    else:
        _, test_set, test_digits = held_out(config, data_dir, utterances)
        skipped, data = [], config.manifest or ("fsdd" if (data_dir or config.data_dir) else "espeak")
    result = score(model, test_set, beam, words)
    per_speaker = {}
    for speaker in sorted({u.speaker for u in test_set if u.speaker}):
        chosen = [i for i, u in enumerate(test_set) if u.speaker == speaker]
        per_speaker[speaker] = float(
            jiwer.wer([test_set[i].transcript for i in chosen], [result["hypotheses"][i] for i in chosen])
        )
    report = {
        "wer": result["wer"],
        "cer": result["cer"],
        "utterances": len(test_set),
        "skipped": len(skipped),
        "per_speaker_wer": per_speaker,
        "data": data,
        "beam": beam,
        "decoding": ("grammar " + grammar) if grammar else (f"lm {lm}" if lm else ("beam" if beam else "greedy")),
        "examples": [
            {"reference": u.transcript, "hypothesis": h} for u, h in list(zip(test_set, result["hypotheses"]))[:10]
        ],
    }
    if test_digits is not None:
        isolated = transcribe_batch(model, test_digits, beam, words=words)
        report["digit_accuracy"] = float(np.mean([h == u.transcript for h, u in zip(isolated, test_digits)]))
        report["isolated_digits"] = len(test_digits)
        report["isolated_errors"] = [
            {"file": str(u.path or ""), "reference": u.transcript, "hypothesis": h}
            for u, h in zip(test_digits, isolated)
            if h != u.transcript
        ]
    write_json(Path(run) / "eval.json", report)
    for speaker, wer in per_speaker.items():
        print(f"{speaker:>24}  WER {wer:.4f}")
    what = "connected digits" if test_digits is not None else "utterances"
    line = f"{what} ({len(test_set)}): WER {report['wer']:.4f}, CER {report['cer']:.4f}"
    if test_digits is not None:
        line += f"; isolated digits ({len(test_digits)}): accuracy {report['digit_accuracy']:.4f}"
    if skipped:
        line += f"; {len(skipped)} left out (--skip-bad)"
    print(f"{line}\nwrote {run}/eval.json")
    return report


def transcribe(run, inputs, beam=0, lm=None, lexicon=None, grammar=None, lm_weight=2.0, word_score=0.0):
    """Print the text of each audio file in ``inputs`` (WAV, FLAC, OGG; any rate, mixed to mono),
    one line each: ``<file>: <text>``; decoded greedily, by beam search (``beam``), or over words
    (``lm`` and ``lexicon``, or ``grammar="digits"``: see ``evaluate``). Returns the lines."""
    _, _, model = load_run(run)
    words = word_decoder(lm, lexicon, grammar, beam, lm_weight, word_score)
    utterances = [speech.Utterance("", path=Path(p)) for p in inputs]
    texts = transcribe_batch(model, utterances, beam, words=words)
    lines = [transcript_line(path, text) for path, text in zip(inputs, texts)]
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
