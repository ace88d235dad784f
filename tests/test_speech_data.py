"""datasets.speech: audio reading, FSDD names, manifests, connected digits, eSpeak NG digits."""

import numpy as np
import pytest
import soundfile

from seqgraph.datasets import speech
from seqgraph.datasets.speech import SpeechDataError


def tone(seconds, rate, freq=440.0):
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_read_audio_mixes_down_and_resamples(tmp_path):
    left, right = tone(0.5, 16000, 300), tone(0.5, 16000, 500)
    soundfile.write(tmp_path / "stereo.wav", np.stack([left, right], 1), 16000)
    audio = speech.read_audio(tmp_path / "stereo.wav")
    assert audio.dtype == np.float32 and len(audio) == 4000
    # the mean of the two channels, resampled: compare with scipy on the known signal
    from scipy.signal import resample_poly

    np.testing.assert_allclose(audio, resample_poly((left + right) / 2, 1, 2), atol=1e-4)
    soundfile.write(tmp_path / "mono.flac", left, 16000)
    assert len(speech.read_audio(tmp_path / "mono.flac")) == 4000


@pytest.mark.parametrize(
    "content, message", [(b"RIFF....WAVEnonsense", "not a readable audio file"), (b"", "not a readable audio file")]
)
def test_bad_audio_is_named(tmp_path, content, message):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    with pytest.raises(SpeechDataError, match=f"{bad}.*{message}"):
        speech.read_audio(bad)


def test_empty_audio_is_named(tmp_path):
    soundfile.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 8000)
    with pytest.raises(SpeechDataError, match="empty.wav: the file holds no samples"):
        speech.read_audio(tmp_path / "empty.wav")


def write_fsdd(folder, speakers=("anna", "bob"), takes=range(6)):
    folder.mkdir(parents=True, exist_ok=True)
    for digit in range(10):
        for s, speaker in enumerate(speakers):
            for take in takes:
                soundfile.write(folder / f"{digit}_{speaker}_{take}.wav", tone(0.3, 8000, 200 + 50 * digit + s), 8000)
    return folder


def test_fsdd_names_and_splits(tmp_path):
    utterances = speech.fsdd(write_fsdd(tmp_path / "recordings").parent)
    assert len(utterances) == 120
    first = next(u for u in utterances if u.path.name == "7_bob_3.wav")
    assert (first.transcript, first.speaker, first.take) == ("seven", "bob", 3)
    train, test = speech.split_by_take(utterances)
    assert {u.take for u in test} == set(range(5)) and {u.take for u in train} == {5}
    train, test = speech.split_by_speaker(utterances, ["anna"])
    assert {u.speaker for u in test} == {"anna"} and {u.speaker for u in train} == {"bob"}
    with pytest.raises(SpeechDataError, match="carol"):
        speech.split_by_speaker(utterances, ["carol"])
    (tmp_path / "recordings" / "seven.wav").write_bytes(b"")
    with pytest.raises(SpeechDataError, match="seven.wav: not an FSDD name"):
        speech.fsdd(tmp_path)


def test_manifest_rows_header_and_errors(tmp_path):
    soundfile.write(tmp_path / "a.wav", tone(0.2, 8000), 8000)
    (tmp_path / "m.csv").write_text("path,transcript\na.wav,Hello  World\n")
    (u,), skipped = speech.read_manifest(tmp_path / "m.csv")
    assert u.transcript == "hello world" and len(u.waveform()) == 1600 and skipped == []
    (tmp_path / "m.tsv").write_text("a.wav\tit's\n")
    assert speech.read_manifest(tmp_path / "m.tsv")[0][0].transcript == "it's"
    (tmp_path / "bad.csv").write_text("a.wav,ok\nmissing.wav,no\n")
    with pytest.raises(SpeechDataError, match="bad.csv, line 2: .*missing.wav: audio file not found"):
        speech.read_manifest(tmp_path / "bad.csv")
    (tmp_path / "chars.csv").write_text("a.wav,route 66\n")
    with pytest.raises(SpeechDataError, match=r"chars.csv, line 1: .*\['6'\]"):
        speech.read_manifest(tmp_path / "chars.csv")


def test_connected_digits_are_deterministic_and_well_formed(tmp_path):
    isolated = speech.fsdd(write_fsdd(tmp_path / "fsdd"))
    made = speech.connected_digits(isolated, 30, seed=3)
    again = speech.connected_digits(isolated, 30, seed=3)
    assert speech.fingerprint(made) == speech.fingerprint(again)
    assert speech.fingerprint(made) != speech.fingerprint(speech.connected_digits(isolated, 30, seed=4))
    lengths = [len(u.transcript.split()) for u in made]
    assert min(lengths) >= 1 and max(lengths) <= 7 and len(set(lengths)) > 3
    for u in made:
        assert set(u.transcript.split()) <= set(speech.DIGIT_WORDS)
        assert np.abs(u.audio).max() <= 1 and u.speaker in ("anna", "bob")
        # each digit adds a 0.3 s tone (less its trimmed edges); each gap between digits 0.05-0.3 s,
        # before the first and after the last 0-0.3 s
        words = len(u.transcript.split())
        assert 0.25 * words + 0.05 * (words - 1) <= len(u.audio) / 8000 <= 0.3 * words + 0.3 * (words + 1) + 0.01
    more = speech.connected_digits(isolated, 100, seed=3)
    starts = [np.argmax(np.abs(u.audio) > 0.2) / 8000 for u in more]  # the first tone sample
    assert min(starts) < 0.05 < max(starts)


def test_synthetic_digits_are_cached_and_vary(tmp_path):
    made = speech.synthetic_digits(takes=2, seed=0, cache_dir=tmp_path)
    assert [u.transcript for u in made[:10]] == list(speech.DIGIT_WORDS) and len(made) == 20
    assert all(0.2 < len(u.audio) / speech.SAMPLE_RATE < 1.5 and np.abs(u.audio).max() > 0.05 for u in made)
    assert len({u.speaker for u in made}) > 5  # voices and variants drawn per clip
    cached = speech.synthetic_digits(takes=2, seed=0, cache_dir=tmp_path)
    assert speech.fingerprint(cached) == speech.fingerprint(made)
    assert speech.fingerprint(speech.synthetic_digits(takes=2, seed=1, cache_dir=tmp_path)) != speech.fingerprint(made)


def test_encode_decode_round_trip():
    ids = speech.encode("seven o'clock")
    assert ids.min() >= 1 and ids.max() == len(speech.ALPHABET)  # apostrophe is the last class
    assert speech.decode(np.concatenate([[0], ids, [0, -1]])) == "seven o'clock"
