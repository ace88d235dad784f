"""Speech corpora in the formats people have (NeMo JSON lines, LibriSpeech folders, Common Voice
TSV, CSV/TSV), each with a small manifest written here: transcripts normalised, audio at any rate,
bad lines and bad audio named, batches by length, a corpus streamed from disk with flat memory,
and the app trained and scored on a LibriSpeech-layout folder of eSpeak NG sentences."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile

from seqgraph.datasets import speech
from seqgraph.datasets.speech import SpeechDataError
from tests.helpers import seqgraph_main as _main
from tests.helpers import tf_only

TEXTS = ["Hello, World!", "it\u2019s a Caf\u00e9", "the end \u2014 or not"]
NORMALISED = ["hello world", "it's a cafe", "the end or not"]


def tone(seconds, rate, freq=440.0):
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write_audio(folder):
    """Three recordings at three rates and in three formats; returns their relative paths."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [("a.wav", 8000, 0.5), ("b.flac", 16000, 0.75), ("c.ogg", 44100, 1.0)]
    for name, rate, seconds in files:
        soundfile.write(folder / name, tone(seconds, rate), rate)
    return [name for name, _, _ in files]


def test_every_format_reads_the_same_corpus(tmp_path):
    names = write_audio(tmp_path / "audio")
    nemo = tmp_path / "train.jsonl"
    nemo.write_text(
        "\n".join(
            json.dumps({"audio_filepath": f"audio/{n}", "text": t, "duration": 1.0}) for n, t in zip(names, TEXTS)
        )
    )
    csv_file = tmp_path / "train.csv"
    csv_file.write_text("path,transcript\n" + "".join(f'audio/{n},"{t}"\n' for n, t in zip(names, TEXTS)))
    tsv_file = tmp_path / "train.tsv"
    tsv_file.write_text("".join(f"audio/{n}\t{t}\n" for n, t in zip(names, TEXTS)))
    cv = tmp_path / "cv"
    write_audio(cv / "clips")
    (cv / "train.tsv").write_text(
        "client_id\tpath\tsentence\tup_votes\n"
        + "".join(f"spk{i}\t{n}\t{t}\t2\n" for i, (n, t) in enumerate(zip(names, TEXTS)))
    )
    libri = tmp_path / "LibriSpeech" / "train-clean" / "19" / "198"
    libri.mkdir(parents=True)
    for i, text in enumerate(TEXTS):
        soundfile.write(libri / f"19-198-{i:04d}.flac", tone(0.5 + i / 4, 16000), 16000)
    (libri / "19-198.trans.txt").write_text("".join(f"19-198-{i:04d} {t.upper()}\n" for i, t in enumerate(TEXTS)))

    expected = {"nemo": nemo, "csv": csv_file, "commonvoice": cv / "train.tsv", "librispeech": tmp_path / "LibriSpeech"}
    for kind, path in expected.items():
        assert speech.manifest_format(path) == ("csv" if path == tsv_file else kind)
        utterances, skipped = speech.read_manifest(path)
        assert [u.transcript for u in utterances] == NORMALISED and skipped == [], kind
        for u in utterances:  # lengths from the headers equal the audio read, at any rate
            assert u.samples(8000) == len(u.load(8000)) and u.samples(16000) == len(u.load(16000)), kind
            assert u.audio is None  # nothing kept in memory
    assert [u.speaker for u in speech.read_manifest(cv / "train.tsv")[0]] == ["spk0", "spk1", "spk2"]
    assert {u.speaker for u in speech.read_manifest(tmp_path / "LibriSpeech")[0]} == {"19"}
    assert [u.transcript for u in speech.read_manifest(tsv_file)[0]] == NORMALISED
    first = speech.read_manifest(nemo)[0][2]
    assert first.seconds() == pytest.approx(1.0, abs=1e-3) and first.rate == 44100


def test_transcripts_are_normalised_to_the_alphabet():
    assert speech.normalise_transcript("  \u00c0 BIENT\u00d4T,  Na\u00efve\u2026 ", "x") == "a bientot naive"
    assert speech.normalise_transcript('don\u2019t `stop\' "now"', "x") == "don't 'stop' now"
    with pytest.raises(SpeechDataError, match=r"m.csv, line 4: .*outside a-z.*\['4'\]"):
        speech.normalise_transcript("route 4", "m.csv, line 4")
    with pytest.raises(SpeechDataError, match="m.csv, line 5: empty transcript"):
        speech.normalise_transcript(" ?! ", "m.csv, line 5")


def test_bad_lines_and_every_bad_audio_file_are_named(tmp_path):
    names = write_audio(tmp_path)
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really")
    nemo = tmp_path / "m.jsonl"
    lines = [
        json.dumps({"audio_filepath": names[0], "text": "one"}),
        "{not json",
        json.dumps({"audio_filepath": "gone.wav", "text": "two"}),
        json.dumps({"text": "no audio"}),
        json.dumps({"audio_filepath": "broken.wav", "text": "three"}),
        json.dumps({"audio_filepath": "also_gone.flac", "text": "four"}),
    ]
    nemo.write_text("\n".join(lines) + "\n")
    with pytest.raises(SpeechDataError) as error:
        speech.read_manifest(nemo)
    message = str(error.value)
    assert "\n" not in message and "m.jsonl, line 2: not a NeMo manifest line" in message
    assert "3 audio file(s) missing or unreadable" in message and "(and 1 more bad line(s))" in message
    for name, why in (("gone.wav", "not found"), ("broken.wav", "not a readable audio file"), ("also_gone.flac", "")):
        assert name in message and why in message
    assert "--skip-bad" in message
    utterances, skipped = speech.read_manifest(nemo, skip_bad=True)
    assert [u.transcript for u in utterances] == ["one"] and len(skipped) == 5
    assert any("line 4" in s and "missing field 'audio_filepath'" in s for s in skipped)
    (tmp_path / "cv.tsv").write_text("path\tsentence\n" + f"{names[0]}\tok\n" + "x.wav\n")
    with pytest.raises(SpeechDataError, match=r"cv.tsv, line 3: 1 fields, the header has 2"):
        speech.read_manifest(tmp_path / "cv.tsv")
    (tmp_path / "notes.txt").write_text("a.wav,hi\n")
    with pytest.raises(SpeechDataError, match="notes.txt: not a manifest seqgraph reads"):
        speech.read_manifest(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SpeechDataError, match=r"empty: no \*.trans.txt files"):
        speech.read_manifest(tmp_path / "empty")


@tf_only
def test_batches_by_length_hold_every_utterance_once(tmp_path):
    rng = np.random.default_rng(0)
    lengths = rng.integers(800, 16000, size=50)
    utterances = [
        speech.Utterance("ab" * (i % 5 + 1), audio=np.full(n, 0.1, np.float32)) for i, n in enumerate(lengths)
    ]
    ds, steps = speech.tf_dataset(utterances, 8, shuffle=True, seed=1, sample_rate=16000)
    seen = []
    for inputs, labels in ds:
        got = inputs["lengths"].numpy()
        assert inputs["waveform"].shape[1] == got.max() and labels.shape[0] == len(got)
        seen += got.tolist()
    assert steps == 7 and sorted(seen) == sorted((2 * lengths).tolist())  # 8 kHz audio, read at 16 kHz
    by_length = speech.padding_fraction(utterances, 8)
    arbitrary = 1 - lengths.sum() / sum(lengths[i : i + 8].max() * len(lengths[i : i + 8]) for i in range(0, 50, 8))
    assert by_length < 0.15 and by_length < arbitrary / 2


STREAM = """
import resource, sys
import numpy as np
from seqgraph.datasets import speech
utterances, _ = speech.read_manifest(sys.argv[1])
utterances = utterances[: int(sys.argv[2])]
ds, _ = speech.tf_dataset(utterances, 8, shuffle=True, seed=0, sample_rate=16000)
next(iter(ds))  # TF's own start-up memory, before counting
start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
total = sum(int(inputs["lengths"].numpy().sum()) for inputs, _ in ds)
print(total, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start) / 1024)
"""


@tf_only
def test_a_corpus_streams_from_disk_in_flat_memory(tmp_path):
    """A pass over 4x the audio needs no more memory than a pass over 1x: the 400 files hold
    128 MB of float32 audio at 16 kHz, far above what the pass may add (24 MB)."""
    folder = tmp_path / "audio"
    folder.mkdir()
    wave = (tone(5.0, 16000) * 32767).astype(np.int16)
    rows = []
    for i in range(400):
        soundfile.write(folder / f"{i}.wav", np.roll(wave, i), 16000, subtype="PCM_16")
        rows.append(f"audio/{i}.wav,tone number {'x' * (i % 7 + 1)}")
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")

    def peak(count):
        out = subprocess.run(
            [sys.executable, "-c", STREAM, str(tmp_path / "m.csv"), str(count)],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        assert out.returncode == 0, out.stderr[-2000:]
        total, megabytes = out.stdout.split()[-2:]
        return int(total), float(megabytes)

    small_total, small = peak(100)
    large_total, large = peak(400)
    assert large_total == 4 * small_total == 400 * 80000
    assert large - small < 24, (small, large)


SENTENCES = ["the cat sat", "a dog ran home", "we sat on the mat", "the sun is hot", "run home now", "a red cat"]


def write_librispeech(root, speakers=("en-us", "en-gb-x-rp"), repeats=2):
    """A LibriSpeech-layout folder of eSpeak NG sentences (FLAC at eSpeak's 22,050 Hz)."""
    espeak = speech.ESpeak()
    for s, voice in enumerate(speakers):
        chapter = root / str(100 + s) / "7"
        chapter.mkdir(parents=True)
        lines = []
        for i in range(repeats * len(SENTENCES)):
            text = SENTENCES[i % len(SENTENCES)]
            uid = f"{100 + s}-7-{i:04d}"
            samples = espeak.say(text, voice, rate=140 + 10 * (i % 3))
            soundfile.write(chapter / f"{uid}.flac", samples, espeak.rate)
            lines.append(f"{uid} {text.upper()}\n")
        (chapter / f"{100 + s}-7.trans.txt").write_text("".join(lines))
    return root


@tf_only
def test_the_app_trains_and_scores_on_a_librispeech_folder(tmp_path):
    """The docs' example end to end, at 16 kHz, on audio recorded at 22,050 Hz."""
    train_dir = write_librispeech(tmp_path / "LibriSpeech" / "train")
    test_dir = write_librispeech(tmp_path / "LibriSpeech" / "test", speakers=("en-029",), repeats=1)
    run = tmp_path / "run"
    tiny = ["--dim", "16", "--blocks", "1", "--heads", "2", "--ffn-dim", "16", "--lstm-units", "8"]
    code, out, err = _main(
        "speech", "train", "--manifest", train_dir, "--valid-utterances", "4", "--sample-rate", "16000",
        "--max-seconds", "1.1", "--epochs", "1", "--batch-size", "4", *tiny, "--progress", "none", "--out", run,
    )  # fmt: skip
    assert code == 0, err[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    config = json.loads((run / "config.json").read_text())
    too_long = metrics["too_long"]
    assert 0 < too_long < 20 and metrics["training_utterances"] == 20 - too_long
    assert metrics["validation_utterances"] == 4 and metrics["skipped"] == 0 and 0 <= metrics["padding"] < 0.5
    assert f"{too_long} longer than 1.1 s" in out and "padding: " in out
    assert config["sample_rate"] == 16000 and config["alphabet"] == speech.ALPHABET and config["blank"] == 0

    code, out, err = _main("speech", "evaluate", "--run", run, "--manifest", test_dir)
    assert code == 0, err[-3000:]
    report = json.loads((run / "eval.json").read_text())
    assert report["utterances"] == 6 and set(report["per_speaker_wer"]) == {"100"} and report["wer"] >= 0
    code, out, err = _main("speech", "evaluate", "--run", run)  # its own held-out utterances
    assert code == 0 and json.loads((run / "eval.json").read_text())["utterances"] == 4

    flac = next(test_dir.rglob("*.flac"))
    code, out, err = _main("speech", "transcribe", "--run", run, flac)
    assert code == 0 and out.startswith(f"{flac}: ")
    code, out, err = _main(
        "speech", "export", "--run", run, "--out", tmp_path / "models" / "speech", "--utterances", "2"
    )
    assert code == 0, err[-3000:]
    from seqgraph.apps import export as ex

    lite = (tmp_path / "models" / "speech" / "1" / "speech.tflite").read_bytes()
    assert ex.read_metadata(lite)["sample_rate"] == 16000

    code, _, err = _main("speech", "train", "--manifest", train_dir, "--data-dir", tmp_path, "--out", tmp_path / "x")
    assert code == 2 and "--manifest and --data-dir name two corpora" in err
    code, _, err = _main(
        "speech", "train", "--manifest", train_dir, "--valid-utterances", "50", "--out", tmp_path / "y"
    )
    assert code == 2 and "--valid-utterances 50" in err and "has 24 utterances" in err


# ----------------------------------------------------------------------------- decoding with words
LM_CORPUS = ["three one four", "one five nine two six", "five three five", "eight nine seven nine", "three two three"]


def kneser_ney_reference(sentences, order):
    """P(w | h) of interpolated Kneser-Ney, straight from the equations (Chen & Goodman 1999,
    eq. 26, with Ney's discount per order): an independent check of the ARPA file's numbers."""
    from collections import Counter

    grams = Counter()
    for s in sentences:
        t = ["<s>", *s.split(), "</s>"]
        for n in range(1, order + 1):
            for i in range(len(t) - n + 1):
                grams[tuple(t[i : i + n])] += 1
    vocab = sorted({g[0] for g in grams if len(g) == 1} - {"<s>"} | {"<unk>"})

    def count(g):  # highest order: counts; lower: distinct words before (raw after <s>)
        if len(g) == order or g[0] == "<s>":
            return grams[g]
        return sum(1 for x in grams if len(x) == len(g) + 1 and x[1:] == g)

    def discount(n):
        values = [count(g) for g in grams if len(g) == n and g != ("<s>",)]
        n1, n2 = values.count(1), values.count(2)
        return min(max(n1 / (n1 + 2 * n2), 0.1), 0.9)

    def p(w, h):
        n = len(h) + 1
        shorter = 1 / len(vocab) if not h else p(w, h[1:])
        followers = {g[-1]: count(g) for g in grams if len(g) == n and g[:-1] == h and g != ("<s>",)}
        if not followers:
            return shorter
        total, d = sum(followers.values()), discount(n)
        return max(followers.get(w, 0) - d, 0) / total + d * len(followers) / total * shorter

    return p, vocab


def test_the_language_model_is_kneser_ney_and_sums_to_one(tmp_path):
    pytest.importorskip("flashlight.lib.text.decoder")
    from flashlight.lib.text.decoder import KenLM
    from flashlight.lib.text.dictionary import create_word_dict

    from seqgraph.apps.speech import decoding

    (tmp_path / "corpus.txt").write_text("\n".join(LM_CORPUS + ["", "Route 66!"]) + "\n")
    arpa, lexicon = decoding.build_lm(tmp_path / "corpus.txt", tmp_path / "lm" / "words.arpa", order=3)
    assert lexicon.read_text().split() == sorted({w for s in LM_CORPUS for w in s.split()})
    reference, vocab = kneser_ney_reference(LM_CORPUS, 3)
    words = create_word_dict({w: [[w]] for w in vocab + ["</s>"]})
    lm = KenLM(str(arpa), words)  # KenLM reads the file: an engine of its own
    histories = {()} | {tuple(s.split()[:k]) for s in LM_CORPUS for k in (1, 2)} | {("nine", "nine")}
    for history in histories:
        state = lm.start(False)
        for w in history:
            state, _ = lm.score(state, words.get_index(w))
        scores = {w: lm.score(state, words.get_index(w))[1] for w in vocab}
        scores["</s>"] = lm.finish(state)[1]
        assert sum(10**v for v in scores.values()) == pytest.approx(1.0, abs=1e-5), history
        context = ("<s>", *history)[-2:]
        for w, value in scores.items():
            assert 10**value == pytest.approx(reference(w, context), rel=1e-4), (history, w)


def test_digit_grammar_and_a_lexicon_correct_what_greedy_decoding_misspells():
    pytest.importorskip("flashlight.lib.text.decoder")
    import tempfile

    from seqgraph.apps.speech import decoding

    # frames spelling "three one" whose second e is a little less likely than a blank: greedy
    # decoding reads "thre one"
    classes = len(speech.ALPHABET) + 1
    frames = [("t", 0.9), ("h", 0.9), ("r", 0.9), ("e", 0.9), ("<b>", 0.9), ("e", 0.45), (" ", 0.9)]
    frames += [("o", 0.9), ("n", 0.9), ("e", 0.9)]
    logits = np.full((len(frames), classes), np.log(0.01), np.float32)
    for i, (c, p) in enumerate(frames):
        if c == "<b>":
            logits[i, 0] = np.log(p)
        else:
            logits[i, speech.ALPHABET.index(c) + 1] = np.log(p)
            logits[i, 0] = np.log(1 - p)
    ids = logits.argmax(1)
    greedy = speech.decode([g for k, g in enumerate(ids) if g and (k == 0 or g != ids[k - 1])])
    assert greedy == "thre one"
    arpa, lexicon = decoding.digit_grammar(tempfile.mkdtemp())
    assert decoding.WordDecoder(arpa, lexicon)(logits) == "three one"


@tf_only
def test_transcribe_and_evaluate_decode_words(tmp_path):
    pytest.importorskip("flashlight.lib.text.decoder")
    train_dir = write_librispeech(tmp_path / "train", speakers=("en-us",), repeats=2)
    run = tmp_path / "run"
    tiny = ["--dim", "16", "--blocks", "1", "--heads", "2", "--ffn-dim", "16", "--lstm-units", "8"]
    # every augmentation on: they train together
    code, _, err = _main(
        "speech", "train", "--manifest", train_dir, "--valid-utterances", "2", "--epochs", "1", "--batch-size", "4",
        *tiny, "--speed-perturbation", "--vtlp", "--reverb", "--noise", "--progress", "none", "--out", run,
    )  # fmt: skip
    assert code == 0, err[-2000:]
    assert json.loads((run / "config.json").read_text())["vtlp"] is True
    (tmp_path / "text.txt").write_text("\n".join(SENTENCES) + "\n")
    code, out, err = _main("speech", "build-lm", "--corpus", tmp_path / "text.txt", "--out", tmp_path / "lm.arpa")
    assert code == 0 and "lm.lexicon.txt: the 16 words" in out, err
    flac = sorted(train_dir.rglob("*.flac"))[:2]
    code, out, err = _main("speech", "transcribe", "--run", run, "--lm", tmp_path / "lm.arpa", *flac)
    assert code == 0, err[-2000:]
    lexicon = set((tmp_path / "lm.lexicon.txt").read_text().split())
    for line, path in zip(out.splitlines(), flac):
        assert line.startswith(f"{path}: ") and set(line.split(": ", 1)[1].split()) <= lexicon
    code, out, err = _main("speech", "evaluate", "--run", run, "--grammar", "digits")
    assert code == 0 and json.loads((run / "eval.json").read_text())["decoding"] == "grammar digits"
    code, _, err = _main(
        "speech", "transcribe", "--run", run, "--grammar", "digits", "--lm", tmp_path / "lm.arpa", *flac
    )
    assert code == 2 and "--grammar digits brings its own model" in err
    code, _, err = _main("speech", "transcribe", "--run", run, "--lexicon", tmp_path / "lm.lexicon.txt", *flac)
    assert code == 2 and "--lm and --lexicon go together" in err
    code, _, err = _main("speech", "transcribe", "--run", run, "--lm", tmp_path / "nope.arpa", *flac)
    assert code == 2 and "--lm and --lexicon go together" in err


def test_the_espeak_sentence_corpus_tests_unseen_sentences_and_voices(tmp_path, capsys):
    train, test = speech.espeak_sentences(tmp_path / "corpus", utterances=12, test_utterances=6, seed=3)
    rows = {
        name: [json.loads(line) for line in path.read_text().splitlines()]
        for name, path in (("train", train), ("test", test))
    }
    assert len(rows["train"]) == 12 and len(rows["test"]) == 6
    train_sentences = set((tmp_path / "corpus" / "train_sentences.txt").read_text().splitlines())
    assert {r["text"] for r in rows["train"]} <= train_sentences
    assert not {r["text"] for r in rows["test"]} & train_sentences  # sentences never trained on
    train_voices, test_voices = speech.sentence_voices()
    assert not set(train_voices) & set(test_voices) and len(train_voices) + len(test_voices) == 7 * 21
    assert {r["speaker"] for r in rows["train"]} <= set(train_voices)
    assert {r["speaker"] for r in rows["test"]} <= set(test_voices)
    for voice in test_voices:  # each has a base voice or a variant that no training speaker has
        base, variant = voice.split("+")
        assert base in speech.TEST_VOICES or variant in speech.TEST_VARIANTS
    utterances, skipped = speech.read_manifest(test)
    assert skipped == [] and [u.transcript for u in utterances] == [r["text"] for r in rows["test"]]
    assert all(1 < u.seconds() < 15 for u in utterances) and {u.speaker for u in utterances} <= set(test_voices)
    capsys.readouterr()
    speech.espeak_sentences(tmp_path / "corpus", utterances=12, test_utterances=6, seed=3)  # the cache
    assert "already written with these settings" in capsys.readouterr().out


# ----------------------------------------------------------------------------- augmentation
def _peak_hz(audio, rate):
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return np.fft.rfftfreq(len(audio), 1 / rate)[spectrum.argmax()]


def test_speed_perturbation_changes_tempo_and_pitch_together():
    audio = tone(1.0, 8000, freq=500.0)
    for factor in (0.9, 1.1):
        fast = speech.change_speed(audio, factor)
        assert len(fast) == pytest.approx(8000 / factor, abs=1)
        assert _peak_hz(fast, 8000) == pytest.approx(500.0 * factor, abs=3)
    np.testing.assert_allclose(speech.change_speed(audio, 1.0), audio)


def test_noise_has_the_snr_asked_for_and_rooms_decay_by_60_db_at_rt60():
    rng = np.random.default_rng(0)
    audio = tone(2.0, 8000)
    noisy = speech.add_noise(audio, 10.0, rng)
    snr = 10 * np.log10(np.mean(audio.astype(np.float64) ** 2) / np.mean((noisy - audio).astype(np.float64) ** 2))
    assert snr == pytest.approx(10.0, abs=0.3)
    response = speech.room_impulse_response(0.5, np.random.default_rng(1))
    assert response[0] == 1.0 and len(response) == int(0.9 * 0.5 * 8000)
    energy = np.cumsum(response[::-1][:-1] ** 2)[::-1]  # Schroeder's backward integral of the tail
    decay_db = 10 * np.log10(energy / energy[0])
    slope = np.polyfit(np.arange(len(decay_db))[400:2000] / 8000, decay_db[400:2000], 1)[0]
    assert -60 / slope == pytest.approx(0.5, rel=0.15)  # the time to fall by 60 dB
    wet = speech.reverberate(audio, response)
    assert len(wet) == len(audio) and np.abs(wet).max() == pytest.approx(np.abs(audio).max(), rel=1e-5)


@tf_only
def test_augmented_batches_differ_by_pass_and_repeat_by_seed():
    utterances = [speech.Utterance("ab", audio=tone(0.5 + i / 10, 8000, 300 + 50 * i)) for i in range(8)]
    augment = speech.Augmentation(speeds=(0.9, 1.0, 1.1), reverb=True, noise_snr=(10, 30))

    def two_passes(seed):
        ds, _ = speech.tf_dataset(utterances, 4, shuffle=True, seed=seed, augment=augment)
        return [[inputs["waveform"].numpy() for inputs, _ in ds] for _ in range(2)]

    first, again = two_passes(5), two_passes(5)
    for a, b in zip(sum(first, []), sum(again, [])):
        np.testing.assert_array_equal(a, b)  # the same seed: the same augmented passes
    assert any(a.shape != b.shape or not np.array_equal(a, b) for a, b in zip(first[0], first[1]))
    plain, _ = speech.tf_dataset(utterances, 4)
    lengths = sorted(int(n) for inputs, _ in plain for n in inputs["lengths"].numpy())
    assert lengths == sorted(len(u.audio) for u in utterances)  # no augmentation: as recorded


@tf_only
def test_leave_speaker_out_trains_a_run_per_speaker_and_resumes(tmp_path):
    from tests.test_speech_data import write_fsdd

    fsdd = write_fsdd(tmp_path / "fsdd", speakers=("anna", "bob", "carl"), takes=range(2))
    out = tmp_path / "lso"
    tiny = ["--dim", "16", "--blocks", "1", "--heads", "2", "--ffn-dim", "16", "--lstm-units", "8"]
    args = ["speech", "leave-speaker-out", "--data-dir", fsdd, "--utterances", "8", "--valid-utterances", "4",
            "--epochs", "1", "--batch-size", "4", *tiny, "--progress", "none", "--test-utterances", "6",
            "--out", out]  # fmt: skip
    code, stdout, err = _main(*args)
    assert code == 0, err[-3000:]
    summary = json.loads((out / "leave_speaker_out.json").read_text())
    assert sorted(summary["speakers"]) == ["anna", "bob", "carl"] and summary["utterances_per_speaker"] == 6
    for speaker, result in summary["speakers"].items():
        config = json.loads((out / speaker / "config.json").read_text())
        assert config["test_speaker"] == speaker and 0 <= result["wer_digit_grammar"]
    wers = [r["wer"] for r in summary["speakers"].values()]
    assert summary["mean_wer"] == pytest.approx(np.mean(wers)) and summary["worst_wer"] == max(wers)
    assert "worst" in stdout and "== anna: training on bob, carl" in stdout
    code, stdout, err = _main(*args)  # finished runs are kept: scored again, not retrained
    assert code == 0 and "training on" not in stdout
    code, _, err = _main("speech", "train", "--data-dir", fsdd, "--test-speaker", "dora", "--out", tmp_path / "x")
    assert code == 2 and "no recordings of speaker(s) ['dora'] (the speakers: anna, bob, carl)" in err


def test_espeak_digits_join_a_recorded_corpus(tmp_path):
    from seqgraph.apps.common import ConfigError
    from seqgraph.apps.speech.config import SpeechConfig
    from seqgraph.apps.speech.train import corpus
    from tests.test_speech_data import write_fsdd

    fsdd = write_fsdd(tmp_path / "fsdd")
    config = SpeechConfig(data_dir=str(fsdd), utterances=6, valid_utterances=2, synthetic_takes=2, espeak_utterances=4)
    train_set, valid_set, _ = corpus(config, quiet=True)
    assert len(train_set) == 10 and {u.speaker for u in train_set[:6]} <= {"anna", "bob"}
    assert [u.speaker for u in train_set[6:]] == ["espeak"] * 4
    assert set(" ".join(u.transcript for u in train_set[6:]).split()) <= set(speech.DIGIT_WORDS)
    assert {u.speaker for u in valid_set} <= {"anna", "bob"}  # held out: recordings only
    with pytest.raises(ConfigError, match="--espeak-utterances adds eSpeak NG digits to --data-dir's"):
        SpeechConfig(espeak_utterances=4)
