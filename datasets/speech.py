"""Speech data: audio files (WAV, FLAC, OGG through soundfile) as mono float waveforms at the
model's rate, the Free Spoken Digit Dataset, manifests of (path, transcript), connected-digit
utterances built from isolated digits, and digits synthesised offline with eSpeak NG (the
embedded default: no network, no data files).

Waveforms are float32 in [-1, 1] at ``SAMPLE_RATE`` (FSDD's 8 kHz: telephone band, enough for
spoken digits); the model computes its own features from them.
"""

import csv
import ctypes
import hashlib
import os
import re
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path

import numpy as np

from seqgraph.datasets import DataError

SAMPLE_RATE = 8000
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# Characters a transcript may hold; the model's classes are these plus the CTC blank.
ALPHABET = "abcdefghijklmnopqrstuvwxyz '"
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
FSDD_NAME = re.compile(r"^([0-9])_([A-Za-z0-9-]+)_([0-9]+)\.wav$")
DEFAULT_CACHE = Path(os.environ.get("SEQGRAPH_CACHE", Path.home() / ".cache" / "seqgraph"))


class SpeechDataError(DataError):
    """An audio file, manifest or folder that cannot be used; the message names it."""


@dataclass
class Utterance:
    """One recording: ``audio`` (float32 at ``rate``, SAMPLE_RATE unless said) in memory, or a
    file at ``path`` read when used (``frames`` at ``rate``: its length, from the file's header).
    ``waveform`` keeps what it read; ``load`` reads the file again every time (a corpus streamed
    from disk)."""

    transcript: str
    speaker: str = ""
    take: int = -1
    path: Path = None
    audio: np.ndarray = field(default=None, repr=False)
    rate: int = SAMPLE_RATE
    frames: int = None

    def waveform(self):
        if self.audio is None:
            self.audio, self.rate = read_audio(self.path), SAMPLE_RATE
        return self.load(SAMPLE_RATE)

    def load(self, sample_rate=SAMPLE_RATE):
        """The waveform at ``sample_rate`` (resampled if needed)."""
        if self.audio is not None:
            return resample(self.audio, self.rate, sample_rate)
        return read_audio(self.path, sample_rate)

    def samples(self, sample_rate=SAMPLE_RATE):
        """The waveform's length at ``sample_rate``, without reading it when the header said."""
        if self.audio is not None:
            return resampled_length(len(self.audio), self.rate, sample_rate)
        if self.frames is None:
            info = audio_info(self.path)
            self.frames, self.rate = info.frames, info.samplerate
        return resampled_length(self.frames, self.rate, sample_rate)

    def seconds(self):
        return self.samples(SAMPLE_RATE) / SAMPLE_RATE


# ----------------------------------------------------------------------------- audio
def resample(audio, rate, target=SAMPLE_RATE):
    """Polyphase resampling (scipy) from ``rate`` to ``target`` Hz."""
    if rate == target:
        return audio.astype(np.float32)
    from scipy.signal import resample_poly

    g = gcd(int(rate), int(target))
    return resample_poly(audio, target // g, int(rate) // g).astype(np.float32)


def resampled_length(frames, rate, target):
    """The length ``resample`` gives ``frames`` samples taken from ``rate`` to ``target`` Hz."""
    if rate == target:
        return int(frames)
    g = gcd(int(rate), int(target))
    return -(-int(frames) * (target // g) // (int(rate) // g))


def audio_info(path):
    """soundfile's header of an audio file (frames, samplerate); SpeechDataError if missing or
    unreadable, naming it."""
    import soundfile

    if not Path(path).is_file():
        raise SpeechDataError(f"{path}: audio file not found")
    try:
        return soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError, OSError) as e:
        raise SpeechDataError(f"{path}: not a readable audio file ({e})") from None


def read_audio(path, sample_rate=SAMPLE_RATE):
    """A WAV/FLAC/OGG file as mono float32 at ``sample_rate``: channels averaged, resampled.
    A missing, corrupt, empty or non-audio file raises SpeechDataError naming it."""
    import soundfile

    try:
        audio, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as e:
        raise SpeechDataError(f"{path}: not a readable audio file ({e})") from None
    if audio.shape[0] == 0:
        raise SpeechDataError(f"{path}: the file holds no samples")
    finite = np.isfinite(audio).all(axis=1)
    if not finite.all():
        raise SpeechDataError(f"{path}: sample {int(np.argmin(finite))} is not a finite number (NaN or Inf)")
    return resample(audio.mean(axis=1), rate, sample_rate)


PUNCTUATION_TO_APOSTROPHE = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})


def normalise_transcript(text, where):
    """The transcript as the model's alphabet writes it: accents removed (NFKD), lower case,
    typographic apostrophes made ``'``, other punctuation and symbols made spaces, runs of spaces
    collapsed. A character still outside ALPHABET (a digit, another script) or an empty result
    raises an error naming ``where`` (file and line)."""
    import unicodedata

    text = unicodedata.normalize("NFKD", text.translate(PUNCTUATION_TO_APOSTROPHE))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = "".join(" " if unicodedata.category(c)[0] in "PSZC" and c != "'" else c for c in text)
    text = " ".join(text.split())
    bad = sorted(set(text) - set(ALPHABET))
    if bad:
        raise SpeechDataError(f"{where}: transcript {text!r} has characters outside a-z, space and apostrophe: {bad}")
    if not text.replace("'", "").strip():
        raise SpeechDataError(f"{where}: empty transcript")
    return text


# ----------------------------------------------------------------------------- corpora
def fsdd(folder):
    """The Free Spoken Digit Dataset: ``{digit}_{speaker}_{take}.wav`` in ``folder`` (or its
    ``recordings/``); transcripts are the digit words. Any other .wav name is an error."""
    folder = Path(folder)
    if (folder / "recordings").is_dir():
        folder = folder / "recordings"
    if not folder.is_dir():
        raise SpeechDataError(f"{folder}: no such folder")
    utterances = []
    for path in sorted(folder.glob("*.wav")):
        match = FSDD_NAME.match(path.name)
        if not match:
            raise SpeechDataError(f"{path}: not an FSDD name ({{digit}}_{{speaker}}_{{take}}.wav)")
        digit, speaker, take = match.groups()
        utterances.append(Utterance(DIGIT_WORDS[int(digit)], speaker, int(take), path))
    if not utterances:
        raise SpeechDataError(f"{folder}: no FSDD recordings ({{digit}}_{{speaker}}_{{take}}.wav)")
    return utterances


def split_by_take(utterances, test_takes=range(5)):
    """FSDD's standard split: (takes 5-49, takes 0-4) by default."""
    test_takes = set(test_takes)
    return ([u for u in utterances if u.take not in test_takes], [u for u in utterances if u.take in test_takes])


def split_by_speaker(utterances, test_speakers):
    test_speakers = set(test_speakers)
    unknown = test_speakers - {u.speaker for u in utterances}
    if unknown:
        there = sorted({u.speaker for u in utterances})
        raise SpeechDataError(f"no recordings of speaker(s) {sorted(unknown)} (the speakers: {', '.join(there)})")
    return (
        [u for u in utterances if u.speaker not in test_speakers],
        [u for u in utterances if u.speaker in test_speakers],
    )


def manifest_format(path):
    """Which manifest ``path`` is: a folder is LibriSpeech's layout (``*.trans.txt`` beside the
    FLAC files); ``.json``/``.jsonl`` NeMo's JSON lines; a ``.tsv`` whose header has ``path`` and
    ``sentence`` Common Voice's; other ``.csv``/``.tsv`` files ``path, transcript`` rows."""
    path = Path(path)
    if path.is_dir():
        return "librispeech"
    if not path.is_file():
        raise SpeechDataError(f"{path}: no such manifest file or folder")
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl"):
        return "nemo"
    if suffix == ".tsv":
        header = _read_text(path).split("\n", 1)[0].split("\t")
        if "path" in header and "sentence" in header:
            return "commonvoice"
    if suffix in (".csv", ".tsv"):
        return "csv"
    raise SpeechDataError(
        f"{path}: not a manifest seqgraph reads (a LibriSpeech folder, NeMo .json/.jsonl lines, a Common Voice "
        ".tsv, or a .csv/.tsv of path, transcript)"
    )


def read_manifest(path, skip_bad=False):
    """The utterances a manifest lists (``manifest_format`` tells the formats apart), with their
    transcripts normalised (``normalise_transcript``) and their audio files' headers read, so
    lengths are known before any audio is. Audio paths resolve against the manifest's folder
    (Common Voice's also against its ``clips/``).

    A line that cannot be parsed (bad JSON, missing field, a transcript outside the alphabet) or
    an audio file that is missing or unreadable stops with one error naming the file and line
    and every bad audio file, unless ``skip_bad``: then they are left out and listed in the
    second value returned.

    Returns:
        ``(utterances, skipped)``: skipped is a list of ``"<where>: <why>"``.
    """
    path = Path(path)
    kind = manifest_format(path)
    rows = {"nemo": _nemo_rows, "librispeech": _librispeech_rows, "commonvoice": _commonvoice_rows, "csv": _csv_rows}
    utterances, bad_lines, bad_audio = [], [], []
    for where, audio, text, speaker in rows[kind](path):
        if isinstance(audio, SpeechDataError):  # a line that could not be parsed
            bad_lines.append(str(audio))
            continue
        try:
            transcript = normalise_transcript(text, where)
        except SpeechDataError as e:
            bad_lines.append(str(e))
            continue
        try:
            info = audio_info(audio)
        except SpeechDataError as e:
            bad_audio.append(f"{where}: {e}")
            continue
        if info.frames == 0:
            bad_audio.append(f"{where}: {audio}: the file holds no samples")
            continue
        utterances.append(Utterance(transcript, speaker, path=audio, rate=info.samplerate, frames=info.frames))
    skipped = bad_lines + bad_audio
    if skipped and not skip_bad:
        first = bad_lines[0] if bad_lines else ""
        audio_part = (
            f"{len(bad_audio)} audio file(s) missing or unreadable: " + "; ".join(bad_audio) if bad_audio else ""
        )
        raise SpeechDataError(
            " | ".join(x for x in (first, audio_part) if x)
            + (f" (and {len(bad_lines) - 1} more bad line(s))" if len(bad_lines) > 1 else "")
            + " -- fix them, or use --skip-bad to leave them out"
        )
    if not utterances:
        raise SpeechDataError(f"{path}: no usable utterances" + (f" ({len(skipped)} skipped)" if skipped else ""))
    return utterances, skipped


def _read_text(path):
    try:
        return Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise SpeechDataError(f"{path}: not a readable UTF-8 manifest ({e})") from None


def _nemo_rows(path):
    """NeMo: one JSON object per line, ``audio_filepath``, ``text``, optional ``speaker`` (its
    optional ``duration`` is not needed: the audio file's header says)."""
    import json

    for line, text in enumerate(_read_text(path).splitlines(), 1):
        if not text.strip():
            continue
        where = f"{path}, line {line}"
        try:
            row = json.loads(text)
            audio, transcript = row["audio_filepath"], row["text"]
            if not isinstance(audio, str) or not isinstance(transcript, str):
                raise TypeError("audio_filepath and text must be strings")
        except (ValueError, KeyError, TypeError) as e:
            message = f"missing field {e}" if isinstance(e, KeyError) else str(e)
            yield where, SpeechDataError(f"{where}: not a NeMo manifest line ({message})"), None, None
            continue
        yield where, path.parent / audio, transcript, str(row.get("speaker", ""))


def _librispeech_rows(folder):
    """LibriSpeech: ``<speaker>/<chapter>/<speaker>-<chapter>.trans.txt`` with lines
    ``<utterance id> <TRANSCRIPT>``, the audio ``<utterance id>.flac`` beside it."""
    found = sorted(Path(folder).rglob("*.trans.txt"))
    if not found:
        raise SpeechDataError(f"{folder}: no *.trans.txt files (LibriSpeech's layout)")
    for trans in found:
        for line, text in enumerate(_read_text(trans).splitlines(), 1):
            if not text.strip():
                continue
            where = f"{trans}, line {line}"
            parts = text.split(maxsplit=1)
            if len(parts) != 2:
                yield where, SpeechDataError(f"{where}: expected '<utterance id> <transcript>'"), None, None
                continue
            yield where, trans.parent / f"{parts[0]}.flac", parts[1], parts[0].split("-")[0]


def _commonvoice_rows(path):
    """Common Voice: a TSV with a header; ``path`` (in ``clips/`` beside the TSV), ``sentence``,
    ``client_id`` (the speaker)."""
    rows = csv.reader(_read_text(path).splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(rows)
    at = {name: header.index(name) for name in ("path", "sentence")}
    speaker = header.index("client_id") if "client_id" in header else None
    clips = path.parent / "clips"
    for line, row in enumerate(rows, 2):
        if not row:
            continue
        where = f"{path}, line {line}"
        if len(row) != len(header):
            yield where, SpeechDataError(f"{where}: {len(row)} fields, the header has {len(header)}"), None, None
            continue
        audio = clips / row[at["path"]] if (clips / row[at["path"]]).exists() else path.parent / row[at["path"]]
        yield where, audio, row[at["sentence"]], row[speaker] if speaker is not None else ""


def _csv_rows(path):
    """``path, transcript`` rows (tab-separated in a .tsv), an optional header ``path,transcript``."""
    rows = csv.reader(_read_text(path).splitlines(), delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
    for line, row in enumerate(rows, 1):
        if not row or (line == 1 and [c.strip().lower() for c in row[:2]] == ["path", "transcript"]):
            continue
        where = f"{path}, line {line}"
        if len(row) != 2:
            message = f"{where}: expected 2 fields (path, transcript), found {len(row)}"
            yield where, SpeechDataError(message), None, None
            continue
        yield where, path.parent / row[0].strip(), row[1], ""


def isolated_digits(data_dir=None, synthetic_takes=20):
    """Every isolated digit: FSDD's recordings in ``data_dir``, or eSpeak NG's digits."""
    return fsdd(data_dir) if data_dir else synthetic_digits(takes=synthetic_takes, seed=0)


def digit_corpus(data_dir=None, synthetic_takes=20, test_speaker=None):
    """``(train, test)`` isolated digits: FSDD's takes 5-49 and 0-4 from ``data_dir``, or without
    it digits spoken by eSpeak NG (``synthetic_takes`` per digit; takes 0-3 held out). With
    ``test_speaker``, that speaker's recordings are the test and everyone else's the training."""
    digits = isolated_digits(data_dir, synthetic_takes)
    where = f"{data_dir}" if data_dir else f"--synthetic-takes {synthetic_takes}"
    if test_speaker:
        train, test = split_by_speaker(digits, [test_speaker])
        held_out = f"of speaker {test_speaker}"
    elif data_dir:
        train, test = split_by_take(digits)
        held_out = "0-4"
    else:
        train, test = split_by_take(digits, range(4))
        held_out = "0-3"
    if not train or not test:
        raise SpeechDataError(
            f"{where}: {len(train)} training and {len(test)} held-out recordings; both are needed "
            f"(takes {held_out} are held out, the rest train)"
        )
    return train, test


# ----------------------------------------------------------------------------- connected digits
def trim_silence(audio, threshold=0.02, margin=0.03, sample_rate=SAMPLE_RATE):
    """Cuts leading and trailing samples quieter than ``threshold`` x the peak, keeping ``margin``
    seconds, so pauses between concatenated digits are the ones we draw."""
    loud = np.flatnonzero(np.abs(audio) >= threshold * np.abs(audio).max())
    if not len(loud):
        return audio
    keep = int(margin * sample_rate)
    return audio[max(0, loud[0] - keep) : loud[-1] + keep + 1]


def connected_digits(
    utterances, count, seed=0, max_digits=7, pause=(0.05, 0.3), snr_db=(20, 40), sample_rate=SAMPLE_RATE
):
    """``count`` utterances of 1..``max_digits`` isolated digits (chosen at random from
    ``utterances``, one speaker each) joined by random pauses, with white noise at a random SNR;
    transcripts like "seven three nine" (the TIDIGITS task). The same seed gives the same list.
    The silence before the first digit and after the last is 0 to ``pause[1]`` seconds: a model
    that only ever saw a pause there fails on recordings that start or end with speech."""
    if not utterances:
        raise SpeechDataError("no isolated digits to make connected-digit utterances from")
    rng = np.random.default_rng(seed)
    by_speaker = {}
    for u in utterances:
        if u.transcript not in DIGIT_WORDS:
            raise SpeechDataError(f"{u.path or u.transcript}: not an isolated digit ({u.transcript!r})")
        by_speaker.setdefault(u.speaker, []).append(u)
    speakers = sorted(by_speaker)
    result = []
    for _ in range(count):
        speaker = speakers[rng.integers(len(speakers))]
        clips = [
            by_speaker[speaker][i] for i in rng.integers(len(by_speaker[speaker]), size=rng.integers(1, max_digits + 1))
        ]
        pieces = []
        for i, clip in enumerate(clips):
            gap = rng.uniform(0 if i == 0 else pause[0], pause[1])
            pieces.append(np.zeros(int(gap * sample_rate), np.float32))
            audio = trim_silence(clip.waveform(), sample_rate=sample_rate)
            pieces.append(audio / max(np.abs(audio).max(), 1e-6) * rng.uniform(0.3, 0.9))
        pieces.append(np.zeros(int(rng.uniform(0, pause[1]) * sample_rate), np.float32))
        audio = np.concatenate(pieces)
        rms = np.sqrt(np.mean(audio**2))
        audio = audio + rng.normal(0, rms / 10 ** (rng.uniform(*snr_db) / 20), len(audio)).astype(np.float32)
        result.append(Utterance(" ".join(c.transcript for c in clips), speaker, audio=np.clip(audio, -1, 1)))
    return result


# ----------------------------------------------------------------------------- eSpeak NG
# English voices and variants of the eSpeak NG that ships in espeakng-loader.
VOICES = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us-nyc", "en-gb-x-gbclan")
VARIANTS = (
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "klatt",
    "klatt3",
    "croak",
    "adam",
    "anika",
    "david",
    "ed",
    "max",
    "linda",
)


class ESpeak:
    """eSpeak NG through ctypes (the library and voices that the PyPI package espeakng-loader
    ships): text -> int16 samples at its own rate (22,050 Hz). One per process."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            import espeakng_loader

            lib = ctypes.CDLL(espeakng_loader.get_library_path())
            self = super().__new__(cls)
            self.lib = lib
            self.rate = lib.espeak_Initialize(2, 0, espeakng_loader.get_data_path().encode(), 0)  # synchronous
            if self.rate <= 0:
                raise RuntimeError("eSpeak NG failed to initialise")
            self.chunks = []
            callback_type = ctypes.CFUNCTYPE(
                ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
            )
            self.callback = callback_type(self._collect)  # kept alive with the instance
            lib.espeak_SetSynthCallback(self.callback)
            cls._instance = self
        return cls._instance

    def _collect(self, samples, count, events):
        if count > 0:
            self.chunks.append(np.ctypeslib.as_array(samples, shape=(count,)).copy())
        return 0

    def say(self, text, voice="en-us", rate=150, pitch=50, pitch_range=50):
        """Samples of ``text`` spoken by ``voice`` (e.g. "en-us+f3") at ``rate`` words/minute."""
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"eSpeak NG has no voice {voice!r}")
        for parameter, value in ((1, rate), (3, pitch), (4, pitch_range)):  # espeakRATE, PITCH, RANGE
            self.lib.espeak_SetParameter(parameter, int(value), 0)
        self.chunks = []
        data = text.encode()
        self.lib.espeak_Synth(data, len(data) + 1, 0, 1, 0, 0, None, None)  # POS_CHARACTER, espeakCHARS_AUTO
        self.lib.espeak_Synchronize()
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)


def synthetic_digits(takes=20, seed=0, sample_rate=SAMPLE_RATE, cache_dir=DEFAULT_CACHE):
    """Isolated digits spoken by eSpeak NG: ``takes`` per digit, each with a voice, variant, rate
    (120-220 words/min), pitch and pitch range drawn from ``seed``; a "speaker" is a
    voice+variant. Cached as .npz under ``cache_dir`` (rebuilt if the settings change)."""
    cache = Path(cache_dir) / "speech" / f"espeak-digits-{takes}-{seed}-{sample_rate}.npz"
    if cache.exists():
        try:
            with np.load(cache) as data:
                return [
                    Utterance(str(t), str(s), int(k), audio=data[f"audio_{i}"])
                    for i, (t, s, k) in enumerate(zip(data["transcripts"], data["speakers"], data["takes"]))
                ]
        except (OSError, ValueError, KeyError):
            pass  # unreadable cache: rebuild it
    from tqdm import tqdm

    espeak = ESpeak()
    rng = np.random.default_rng(seed)
    utterances = []
    for take in tqdm(range(takes), desc="synthesising digits (eSpeak NG)", unit="take", leave=False):
        for digit, word in enumerate(DIGIT_WORDS):
            voice = f"{VOICES[rng.integers(len(VOICES))]}+{VARIANTS[rng.integers(len(VARIANTS))]}"
            samples = espeak.say(
                word, voice, rate=rng.integers(120, 221), pitch=rng.integers(20, 81), pitch_range=rng.integers(20, 81)
            )
            audio = resample(samples.astype(np.float32) / 32768.0, espeak.rate, sample_rate)
            utterances.append(Utterance(word, voice, take, audio=audio))
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f"tmp-{os.getpid()}-{cache.name}")  # one per process: workers share it
    np.savez(
        tmp,
        transcripts=np.array([u.transcript for u in utterances]),
        speakers=np.array([u.speaker for u in utterances]),
        takes=np.array([u.take for u in utterances]),
        **{f"audio_{i}": u.audio for i, u in enumerate(utterances)},
    )
    os.replace(tmp, cache)
    return utterances


def spoken_words(text, voice="en-us", rate=150, pause=(0.1, 0.2), seed=0, sample_rate=SAMPLE_RATE):
    """``text`` spoken word by word by eSpeak NG and joined by random pauses (as connected digits
    are built), with 0.1 s of silence before, peak 0.8: a test recording made on the spot."""
    espeak = ESpeak()
    rng = np.random.default_rng(seed)
    pieces = [np.zeros(int(0.1 * sample_rate), np.float32)]
    for word in text.split():
        samples = espeak.say(word, voice, rate=rate).astype(np.float32) / 32768.0
        pieces += [
            trim_silence(resample(samples, espeak.rate, sample_rate), sample_rate=sample_rate),
            np.zeros(int(rng.uniform(*pause) * sample_rate), np.float32),
        ]
    audio = np.concatenate(pieces)
    return 0.8 * audio / max(np.abs(audio).max(), 1e-6)


# Voices of the sentence corpus's test split only: a base voice (an accent) and four variants (a
# male, a female, a Klatt synthesiser and a named voice); a test speaker has either.
TEST_VOICES = ("en-gb-scotland",)
TEST_VARIANTS = ("m6", "f4", "klatt3", "anika")


def lee_sentences(min_words=3, max_words=20):
    """The sentences of gensim's Lee corpus (Australian news, 2001) that the alphabet can write
    (no digits), of ``min_words`` to ``max_words`` words, normalised, in order, without repeats."""
    from seqgraph.datasets.text import embedded_corpus

    text = embedded_corpus().read_text(encoding="utf-8")
    seen, sentences = set(), []
    for raw in re.split(r"(?<=[.!?])\s+", text):
        try:
            sentence = normalise_transcript(raw.replace("-", " "), "lee")
        except SpeechDataError:
            continue
        if min_words <= len(sentence.split()) <= max_words and sentence not in seen:
            seen.add(sentence)
            sentences.append(sentence)
    return sentences


def sentence_voices():
    """``(training speakers, test speakers)``: eSpeak NG voice+variant pairs; a test speaker has a
    base voice or a variant that no training speaker has."""
    train, test = [], []
    for voice in VOICES:
        for variant in VARIANTS:
            (test if voice in TEST_VOICES or variant in TEST_VARIANTS else train).append(f"{voice}+{variant}")
    return train, test


def say_sentence(espeak, text, voice, rng, sample_rate=SAMPLE_RATE):
    """``text`` said by ``espeak`` (an ``ESpeak``) in ``voice`` at a rate (130-210 words/min),
    pitch and pitch range drawn from ``rng``: float32 at ``sample_rate``, silence trimmed, peak 0.8."""
    samples = espeak.say(
        text, voice, rate=rng.integers(130, 211), pitch=rng.integers(25, 76), pitch_range=rng.integers(25, 81)
    )
    audio = trim_silence(resample(samples.astype(np.float32) / 32768.0, espeak.rate, sample_rate), 0.01)
    return 0.8 * audio / max(np.abs(audio).max(), 1e-6)


def espeak_sentences(out, utterances=6000, test_utterances=300, test_share=0.1, seed=0, sample_rate=SAMPLE_RATE):
    """``seqgraph speech synthesize``: an open-vocabulary corpus spoken by eSpeak NG, written to
    ``out`` as FLAC files and NeMo manifests: ``train.jsonl`` (``utterances`` utterances) and
    ``test.jsonl`` (``test_utterances``), and ``train_sentences.txt`` (the training text, for
    ``build-lm``). Sentences come from gensim's Lee corpus (``lee_sentences``); a share
    ``test_share`` of them, and the speakers of ``sentence_voices``' test side, are used by the
    test split only, so it holds sentences AND voices never trained on. Each utterance draws its
    sentence, speaker, rate (130-210 words/min), pitch and pitch range from ``seed``. A folder
    already written with the same settings is kept (a cache).

    Returns:
        ``(train manifest, test manifest)``.
    """
    import json

    import soundfile
    from tqdm import tqdm

    out = Path(out)
    settings = {"utterances": utterances, "test_utterances": test_utterances, "test_share": test_share}
    settings.update({"seed": seed, "sample_rate": sample_rate, "version": 1})
    done = out / "corpus.json"
    if done.exists() and json.loads(done.read_text()) == settings:
        print(f"{out}: already written with these settings")
        return out / "train.jsonl", out / "test.jsonl"
    rng = np.random.default_rng(seed)
    sentences = lee_sentences()
    order = rng.permutation(len(sentences))
    cut = int(round(len(sentences) * test_share))
    test_sentences = [sentences[i] for i in sorted(order[:cut])]
    train_sentences = [sentences[i] for i in sorted(order[cut:])]
    train_speakers, test_speakers = sentence_voices()
    espeak = ESpeak()
    (out / "audio").mkdir(parents=True, exist_ok=True)
    hours = {}
    for split, count, texts, speakers in (
        ("train", utterances, train_sentences, train_speakers),
        ("test", test_utterances, test_sentences, test_speakers),
    ):
        rows = []
        for i in tqdm(range(count), desc=f"eSpeak NG sentences ({split})", unit="utt", leave=False):
            text, voice = texts[rng.integers(len(texts))], speakers[rng.integers(len(speakers))]
            audio = say_sentence(espeak, text, voice, rng, sample_rate)
            name = Path("audio") / f"{split}-{i:05d}.flac"
            soundfile.write(out / name, audio, sample_rate, subtype="PCM_16")
            rows.append(
                {"audio_filepath": str(name), "text": text, "speaker": voice, "duration": len(audio) / sample_rate}
            )
        with open(out / f"tmp-{os.getpid()}-{split}.jsonl", "w") as handle:
            handle.write("".join(json.dumps(r) + "\n" for r in rows))
        os.replace(out / f"tmp-{os.getpid()}-{split}.jsonl", out / f"{split}.jsonl")
        hours[split] = sum(r["duration"] for r in rows) / 3600
    (out / "train_sentences.txt").write_text("".join(f"{t}\n" for t in train_sentences))
    done.write_text(json.dumps(settings))
    print(
        f"{out}: train.jsonl {utterances} utterances ({hours['train']:.2f} h) of {len(train_sentences)} sentences by "
        f"{len(train_speakers)} speakers; test.jsonl {test_utterances} ({hours['test']:.2f} h) of "
        f"{len(test_sentences)} other sentences by {len(test_speakers)} other speakers; train_sentences.txt"
    )
    return out / "train.jsonl", out / "test.jsonl"


def fingerprint(utterances):
    """A short hash of transcripts and audio, to tell two generated sets apart in tests and runs."""
    h = hashlib.sha1()
    for u in utterances:
        h.update(u.transcript.encode())
        h.update(np.ascontiguousarray(u.waveform()).tobytes())
    return h.hexdigest()[:12]


# ----------------------------------------------------------------------------- augmentation
def change_speed(audio, factor, sample_rate=SAMPLE_RATE):
    """``audio`` played ``factor`` times faster (tempo and pitch together, as speed perturbation
    does: Ko et al. 2015): resampled from ``factor`` x ``sample_rate``."""
    return resample(audio, int(round(sample_rate * factor)), sample_rate)


def add_noise(audio, snr_db, rng):
    """``audio`` with white noise at ``snr_db`` dB below its power."""
    power = float(np.mean(audio.astype(np.float64) ** 2))
    noise = rng.normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), len(audio))
    return (audio + noise).astype(np.float32)


def room_impulse_response(rt60, rng, sample_rate=SAMPLE_RATE):
    """A synthetic room impulse response: the direct sound, then exponentially decaying noise
    that falls by 60 dB in ``rt60`` seconds (a diffuse reverberant tail), 0.9 x ``rt60`` long."""
    t = np.arange(int(0.9 * rt60 * sample_rate)) / sample_rate
    tail = rng.normal(0.0, 1.0, len(t)) * 10 ** (-3 * t / rt60)  # amplitude: -60 dB at rt60
    tail[0] = 0.0
    response = np.concatenate([[1.0], 0.3 * tail[1:] / max(np.sqrt(np.sum(tail**2)), 1e-9)])
    return response.astype(np.float32)


def reverberate(audio, response):
    """``audio`` convolved with a room ``response``, cut to its length and to its peak."""
    from scipy.signal import fftconvolve

    wet = fftconvolve(audio, response)[: len(audio)]
    return (wet * (np.abs(audio).max() / max(np.abs(wet).max(), 1e-9))).astype(np.float32)


@dataclass
class Augmentation:
    """Training-time changes of each utterance, drawn per utterance and per pass: a speed from
    ``speeds`` (e.g. 0.9, 1.0, 1.1), a room (``reverb``: an RT60 of 0.2-0.7 s), white noise at an
    SNR drawn from ``noise_snr`` (dB). Example: ``Augmentation(speeds=(0.9, 1.0, 1.1))``."""

    speeds: tuple = ()
    reverb: bool = False
    noise_snr: tuple = ()

    def __bool__(self):
        return bool(self.speeds or self.reverb or self.noise_snr)

    def __call__(self, audio, rng, sample_rate=SAMPLE_RATE):
        if self.speeds:
            audio = change_speed(audio, self.speeds[rng.integers(len(self.speeds))], sample_rate)
        if self.reverb:
            audio = reverberate(audio, room_impulse_response(rng.uniform(0.2, 0.7), rng, sample_rate))
        if self.noise_snr:
            audio = add_noise(audio, rng.uniform(*self.noise_snr), rng)
        return np.clip(audio, -1, 1)


# ----------------------------------------------------------------------------- pipeline
def length_batches(lengths, batch_size):
    """Indices of ``lengths`` cut into batches of similar length (sorted, then cut), so that
    little of each batch is padding."""
    order = np.argsort(lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def padding_fraction(utterances, batch_size, sample_rate=SAMPLE_RATE):
    """The share of the samples in ``tf_dataset``'s batches that are padding."""
    lengths = np.array([u.samples(sample_rate) for u in utterances])
    batches = length_batches(lengths, batch_size)
    padded = sum(int(lengths[b].max()) * len(b) for b in batches)
    return 1 - lengths.sum() / padded


def pad_waveforms(waves):
    """``(batch [n, longest] float32, lengths [n] int32)``: ``waves`` zero-padded to one batch."""
    lengths = np.array([len(w) for w in waves], np.int32)
    batch = np.zeros((len(waves), lengths.max()), np.float32)
    for row, wave in zip(batch, waves):
        row[: len(wave)] = wave
    return batch, lengths


def tf_dataset(utterances, batch_size, shuffle=False, seed=0, sample_rate=SAMPLE_RATE, augment=None):
    """``({"waveform" [B, S], "lengths" [B]}, labels [B, L] padded with -1)`` batches at
    ``sample_rate``, and their number. Utterances of similar length are batched together
    (``length_batches``); batches are shuffled each pass when ``shuffle``. Audio files are read
    when their batch is made (in parallel, in order), so a corpus larger than memory streams from
    disk. ``augment`` (an ``Augmentation``) changes each utterance, drawn anew each pass from
    ``seed`` (the same passes for the same seed, so a resumed run sees what it would have)."""
    import tensorflow as tf

    lengths = np.array([u.samples(sample_rate) for u in utterances])
    labels = [encode(u.transcript) for u in utterances]
    batches = length_batches(lengths, batch_size)

    def load(number, draw):
        index = batches[int(number)]
        audio = [utterances[i].load(sample_rate) for i in index]
        if augment:
            rng = np.random.default_rng(int(draw) % 2**63)
            audio = [augment(a, rng, sample_rate) for a in audio]
        wave, length = pad_waveforms(audio)
        label = np.full((len(index), max(len(labels[i]) for i in index)), -1, np.int32)
        for row, i in enumerate(index):
            label[row, : len(labels[i])] = labels[i]
        return wave, length, label

    def make(number, draw):
        wave, length, label = tf.numpy_function(load, [number, draw], [tf.float32, tf.int32, tf.int32], stateful=False)
        wave.set_shape((None, None))
        length.set_shape((None,))
        label.set_shape((None, None))
        return {"waveform": wave, "lengths": length}, label

    ds = tf.data.Dataset.range(len(batches))
    if shuffle:
        ds = ds.shuffle(len(batches), seed=seed, reshuffle_each_iteration=True)
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    ds = tf.data.Dataset.zip(ds, draws).map(make, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE), len(batches)


# ----------------------------------------------------------------------------- labels
def encode(transcript):
    """Characters -> class ids 1..len(ALPHABET) (0 is the CTC blank)."""
    return np.array([ALPHABET.index(c) + 1 for c in transcript], np.int32)


def decode(ids):
    """Class ids -> text; blanks (0) and padding (-1) are skipped."""
    return "".join(ALPHABET[i - 1] for i in ids if i > 0)
