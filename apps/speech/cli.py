"""``seqgraph speech``: the command line (argparse only); each command names the task it runs."""

from seqgraph.apps.speech.config import SpeechConfig
from seqgraph.cli import (
    app_parser,
    command,
    config_options,
    export_command,
    positive,
    query_command,
    run_option,
    train_command,
    training_options,
)

FSDD = "the FSDD folder (default: the run's)"
BEAM = "beam width (0: greedy decoding; 32 with a language model)"


def decoding_options(parser):
    """--beam, and decoding over words: --lm/--lexicon or --grammar digits."""
    parser.add_argument("--beam", type=int, default=0, help=BEAM)
    parser.add_argument("--lm", metavar="ARPA_OR_BINARY", help="decode words with this n-gram model (build-lm)")
    parser.add_argument("--lexicon", metavar="WORDS_TXT", help="the words allowed, one per line (build-lm)")
    parser.add_argument("--grammar", choices=["digits"], help="decode sequences of digit words only")
    parser.add_argument("--lm-weight", type=float, default=2.0, help="the language model's weight")
    parser.add_argument("--word-score", type=float, default=0.0, help="a score added per word")


DESCRIPTION = (
    "Speech recognition with the lecture's pipeline: log-mel features inside the model, convolutional "
    "subsampling, truncated multi-head self-attention, a bidirectional peephole LSTM and CTC over characters. "
    "Trains on connected digits (the Free Spoken Digit Dataset, or digits spoken by eSpeak NG), and exports "
    "for TF Serving and TFLite."
)


def add_parser(apps, name, summary):
    commands = app_parser(apps, name, summary, DESCRIPTION)
    train_command(
        commands,
        "speech",
        SpeechConfig,
        "train on a corpus or connected digits, score held-out utterances",
        "Trains the recogniser with CTC on a corpus (--manifest) or on connected-digit utterances made from "
        "the training takes, and scores held-out utterances. The run folder gets config.json, metrics.json, "
        "loss.png and model.keras.",
        "seqgraph speech train --data-dir data/fsdd --out runs/speech/fsdd",
    )
    p = command(
        commands,
        "leave-speaker-out",
        "seqgraph.apps.speech.speakers:leave_speaker_out",
        "a model per speaker, scored on the speaker it never heard",
        "Trains one run per speaker of the digit corpus (FSDD's five with --data-dir) in OUT/<speaker>/, each "
        "on every other speaker, and scores each on connected digits of the speaker it left out, greedily and "
        "with --grammar digits; OUT/leave_speaker_out.json gets the WERs, their mean and the worst. Finished "
        "runs are kept, so the protocol resumes where it stopped.",
        "seqgraph speech leave-speaker-out --data-dir data/fsdd --out runs/speech/lso",
    )
    config_options(p, SpeechConfig, exclude=("test_speaker", "manifest", "valid_manifest"))
    training_options(p, "speech", SpeechConfig)
    p.set_defaults(out=None)
    p.add_argument("--test-utterances", type=positive, default=500, help="connected test utterances per speaker")
    p = command(
        commands,
        "evaluate",
        "seqgraph.apps.speech.evaluate:evaluate",
        "WER and CER on held-out utterances or a test manifest",
        "Scores the run's model (WER and CER, per speaker too) on a test corpus given by --manifest, or on the "
        "run's held-out utterances: for a digit run, connected digits built from the held-out takes and the "
        "isolated held-out takes. Writes RUN_DIR/eval.json.",
        "seqgraph speech evaluate --run runs/speech/libri --manifest data/LibriSpeech/test-clean",
    )
    run_option(p, FSDD)
    p.add_argument(
        "--manifest",
        help="a test corpus: NeMo JSON lines, a LibriSpeech folder, a Common Voice .tsv, or a .csv/.tsv of "
        "path, transcript",
    )
    p.add_argument("--skip-bad", action="store_true", help="leave out bad lines and unreadable audio (counted)")
    p.add_argument("--utterances", type=positive, default=500, help="held-out utterances (not with --manifest)")
    decoding_options(p)
    p = command(
        commands,
        "transcribe",
        "seqgraph.apps.speech.evaluate:transcribe",
        "print the text of audio files",
        "Prints the text of each audio file (WAV, FLAC or OGG; any sample rate, mixed to mono), one line each.",
        "seqgraph speech transcribe --run runs/speech/fsdd recording.wav",
    )
    run_option(p)
    decoding_options(p)
    p.add_argument("inputs", nargs="+", metavar="AUDIO", help="an audio file")
    p = query_command(
        commands,
        "speech",
        "audio files",
        "a WAV, FLAC or OGG file (all in one request)",
        "seqgraph speech query --server localhost:8501 --label canary recording.wav",
    )
    p.add_argument(
        "--sample-rate",
        type=positive,
        default=8000,
        help="the served model's sample rate (its run's --sample-rate; the server does not say it)",
    )
    p = command(
        commands,
        "synthesize",
        "seqgraph.datasets.speech:espeak_sentences",
        "write an open-vocabulary corpus spoken by eSpeak NG (NeMo manifests)",
        "Writes sentences of gensim's Lee corpus spoken by eSpeak NG voices (drawn voice, variant, rate and "
        "pitch) as FLAC files with train.jsonl and test.jsonl manifests; the test split holds sentences and "
        "voices the training split never has. Train on it with --manifest OUT/train.jsonl.",
        "seqgraph speech synthesize --out data/espeak-sentences",
    )
    p.add_argument("--out", required=True, help="the corpus folder (kept as a cache: same settings, no rewrite)")
    p.add_argument("--utterances", type=positive, default=6000, help="training utterances")
    p.add_argument("--test-utterances", type=positive, default=300, help="test utterances")
    p.add_argument("--seed", type=int, default=0, help="sentences, speakers, rates and pitches")
    p.add_argument("--sample-rate", type=positive, default=8000, help="the files' sample rate")
    p = command(
        commands,
        "build-lm",
        "seqgraph.apps.speech.decoding:build_lm",
        "an n-gram language model and lexicon from a text corpus",
        "Writes an ARPA n-gram model (interpolated Kneser-Ney) of a text file, one sentence per line, normalised "
        "to the model's alphabet, and its lexicon (every word) beside it, for transcribe/evaluate --lm.",
        "seqgraph speech build-lm --corpus sentences.txt --order 3 --out lm/words.arpa",
    )
    p.add_argument("--corpus", required=True, help="a UTF-8 text file, one sentence per line")
    p.add_argument("--order", type=positive, default=3, help="the n of the n-grams")
    p.add_argument("--out", required=True, help="the ARPA file to write (the lexicon goes beside it)")
    p = command(
        commands,
        "say",
        "seqgraph.apps.speech.evaluate:say",
        "write WAVs of texts spoken word by word by eSpeak NG",
        "Writes one WAV per text (8 kHz), its words spoken one at a time by eSpeak NG and joined by short "
        "pauses, the way the training utterances are built: recordings to try a model on.",
        'seqgraph speech say --out-dir examples "three one four" "nine"',
    )
    p.add_argument("--out-dir", required=True, help="the folder for the WAV files")
    p.add_argument(
        "--voices",
        nargs="+",
        default=["en-us+f3", "en-gb-x-rp+m3", "en-029+m1"],
        help="eSpeak NG voices, one per text in turn",
    )
    p.add_argument("texts", nargs="+", metavar="TEXT", help="words to say (digits for the digit models)")
    p = export_command(commands, "speech", "held-out utterances", int8="dynamic", data_dir_help=FSDD)
    p.add_argument("--utterances", type=positive, default=100, help="held-out utterances for the checks")
    p.add_argument(
        "--calibration-utterances", type=positive, default=100, help="training digits to calibrate static int8"
    )
