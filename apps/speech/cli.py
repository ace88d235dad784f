"""``seqgraph speech``: the command line (argparse only); each command calls its task."""

from seqgraph.apps.speech.config import SpeechConfig
from seqgraph.cli import app_parser, command, config_from, positive, training_options


def add_parser(apps, name, summary):
    commands = app_parser(
        apps,
        name,
        summary,
        description=(
            "Speech recognition with the lecture's pipeline: log-mel features inside the model, convolutional "
            "subsampling, truncated multi-head self-attention, a bidirectional peephole LSTM and CTC over "
            "characters. Trains on connected digits (the Free Spoken Digit Dataset, or digits spoken by eSpeak "
            "NG), and exports for TF Serving and TFLite."
        ),
    )
    d = SpeechConfig()

    p = command(
        commands,
        "train",
        "train on connected digits, score held-out ones",
        "Trains the recogniser with CTC on connected-digit utterances made from the training takes, "
        "and scores utterances made from the held-out takes. The run folder gets config.json, "
        "metrics.json, loss.png and model.keras.",
        "seqgraph speech train --data-dir data/fsdd --out runs/speech/fsdd",
    )
    p.add_argument("--data-dir", help="a Free Spoken Digit Dataset folder (default: eSpeak NG digits, embedded)")
    p.add_argument("--synthetic-takes", type=int, default=d.synthetic_takes, help="eSpeak NG takes per digit")
    p.add_argument("--utterances", type=int, default=d.utterances, help="connected-digit training utterances")
    p.add_argument(
        "--valid-utterances", type=int, default=d.valid_utterances, help="held-out utterances scored after each epoch"
    )
    p.add_argument("--epochs", type=int, default=d.epochs, help="passes over the training utterances")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="utterances per batch")
    p.add_argument("--lr", type=float, default=d.lr, help="AdamW's peak learning rate (5%% warmup, cosine to 0)")
    p.add_argument("--mels", type=int, default=d.mels, help="log-mel bands")
    p.add_argument("--dim", type=int, default=d.dim, help="features of the attention blocks")
    p.add_argument("--blocks", type=int, default=d.blocks, help="self-attention blocks")
    p.add_argument("--heads", type=int, default=d.heads, help="attention heads")
    p.add_argument("--window", type=int, default=d.window, help="attention radius in 40 ms steps (0: full attention)")
    p.add_argument("--ffn-dim", type=int, default=d.ffn_dim, help="hidden units of each block's feed-forward layer")
    p.add_argument("--lstm-units", type=int, default=d.lstm_units, help="peephole LSTM units in each direction")
    p.add_argument("--dropout", type=float, default=d.dropout, help="dropout rate")
    p.add_argument("--seed", type=int, default=d.seed, help="utterances, initial weights and batch order")
    training_options(p, "speech", SpeechConfig, "run folder (default: runs/speech/<timestamp>)")
    p.set_defaults(handler=train)

    p = command(
        commands,
        "evaluate",
        "WER and CER on held-out connected digits, isolated-digit accuracy",
        "Scores the run's model on connected digits built from the held-out takes (WER and CER, per "
        "speaker too) and on the isolated held-out takes; writes RUN_DIR/eval.json.",
        "seqgraph speech evaluate --run runs/speech/fsdd --beam 16",
    )
    run_options(p)
    p.add_argument("--utterances", type=positive, default=500, help="connected test utterances")
    p.add_argument("--beam", type=int, default=0, help="beam width (0: greedy decoding)")
    p.set_defaults(handler=evaluate)

    p = command(
        commands,
        "transcribe",
        "print the text of audio files",
        "Prints the text of each audio file (WAV, FLAC or OGG; any sample rate, mixed to mono), one line each.",
        "seqgraph speech transcribe --run runs/speech/fsdd recording.wav",
    )
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="a run folder written by train")
    p.add_argument("--beam", type=int, default=0, help="beam width (0: greedy decoding)")
    p.add_argument("inputs", nargs="+", metavar="AUDIO", help="an audio file")
    p.set_defaults(handler=transcribe)

    p = command(
        commands,
        "say",
        "write WAVs of texts spoken word by word by eSpeak NG",
        "Writes one WAV per text (8 kHz), its words spoken one at a time by eSpeak NG and joined by "
        "short pauses, the way the training utterances are built: recordings to try a model on.",
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
    p.set_defaults(handler=say)

    p = command(
        commands,
        "export",
        "SavedModel for TF Serving, TFLite float and int8",
        "Writes a SavedModel for TF Serving (OUT/<version>/) and TFLite float and int8 models beside "
        "it, each checked on held-out utterances before it is published; the figures go to "
        "OUT/export.json.",
        "seqgraph speech export --run runs/speech/fsdd --out saved_models/speech",
    )
    run_options(p)
    p.add_argument("--out", default="saved_models/speech", help="the export folder (TF Serving's base path)")
    p.add_argument("--utterances", type=positive, default=100, help="held-out utterances for the checks")
    p.add_argument(
        "--int8",
        choices=["dynamic", "static"],
        default="dynamic",
        help="dynamic: int8 weights, activations quantised per call; static: int8 activations too, "
        "calibrated on training digits",
    )
    p.add_argument(
        "--calibration-utterances", type=positive, default=100, help="training digits to calibrate static int8"
    )
    p.set_defaults(handler=export)


def run_options(p):
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="a run folder written by train")
    p.add_argument("--data-dir", help="the FSDD folder (default: the run's)")


def train(args):
    from seqgraph.apps.speech.train import train

    return train(config_from(args), args.out, args.distribute, args.progress)


def evaluate(args):
    from seqgraph.apps.speech.evaluate import evaluate

    return evaluate(args.run, args.data_dir, args.utterances, args.beam)


def transcribe(args):
    from seqgraph.apps.speech.evaluate import transcribe

    return transcribe(args.run, args.inputs, args.beam)


def say(args):
    from seqgraph.apps.speech.evaluate import say

    return say(args.texts, args.out_dir, args.voices)


def export(args):
    from seqgraph.apps.speech.serving import export

    return export(args.run, args.out, args.data_dir, args.utterances, args.int8, args.calibration_utterances)
