"""``seqgraph skipgram``: the command line (argparse only); each command calls its task."""

from seqgraph.apps.skipgram.config import SkipgramConfig
from seqgraph.cli import app_parser, command, config_from, positive, training_options
from seqgraph.datasets.text import FORMATS


def add_parser(apps, name, summary):
    commands = app_parser(
        apps,
        name,
        summary,
        description=(
            "Word vectors with skip-gram or CBOW and negative sampling (Mikolov et al. 2013), trained with "
            "word2vec's SGD on a text corpus, scored on WordSim-353, SimLex-999 and the Google analogies, and "
            "exported for TF Serving, TFLite, gensim and TensorBoard's projector."
        ),
    )
    d = SkipgramConfig()

    p = command(
        commands,
        "train",
        "learn word vectors, score them",
        "Learns word vectors from a corpus (gensim's Lee corpus without --corpus) and scores them. The "
        "run folder gets config.json, vocab.tsv, model.keras, metrics.json and loss.png.",
        "seqgraph skipgram train --corpus data/brown.zip --epochs 5 --out runs/skipgram/brown",
    )
    p.add_argument(
        "--corpus",
        help="a text file or folder, a one-sentence-per-line file, NLTK's Brown zip or "
        "folder, or a text8-style file (default: gensim's Lee corpus)",
    )
    p.add_argument("--format", default=d.format, choices=("auto",) + FORMATS, help="the corpus format")
    p.add_argument("--no-lowercase", dest="lowercase", action="store_false", help="keep the tokens' case")
    p.add_argument(
        "--tokenizer",
        choices=["words", "whitespace"],
        default=d.tokenizer,
        help="words: runs of letters and digits; whitespace: split on spaces",
    )
    p.add_argument("--model", choices=["skipgram", "cbow"], default=d.model, help="the network")
    p.add_argument("--dim", type=int, default=d.dim, help="vector size")
    p.add_argument("--window", type=int, default=d.window, help="the largest context window (1..WINDOW drawn)")
    p.add_argument("--negative", type=int, default=d.negative, help="negative words per example")
    p.add_argument("--min-count", type=int, default=d.min_count, help="drop words seen fewer times")
    p.add_argument("--max-vocab", type=int, help="keep at most this many words (the most frequent)")
    p.add_argument("--sample", type=float, default=d.sample, help="subsampling threshold of frequent words (0: off)")
    p.add_argument("--epochs", type=int, default=d.epochs, help="passes over the corpus")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="examples per SGD step (steps summed)")
    p.add_argument(
        "--shuffle-span",
        type=int,
        default=d.shuffle_span,
        help="centre words are shuffled within spans of this many subsampled tokens, spans in corpus "
        "order, as word2vec reads a corpus in order (1: no shuffling)",
    )
    p.add_argument("--lr", type=float, default=d.lr, help="SGD step per example, falling linearly to --min-lr")
    p.add_argument("--min-lr", type=float, default=d.min_lr, help="the last SGD step")
    p.add_argument("--seed", type=int, default=d.seed, help="subsampling, windows, negatives and initial vectors")
    p.add_argument(
        "--threads",
        type=positive,
        help="TF threads for the training step (default: all cores but one, which makes the batches)",
    )
    training_options(p, "skipgram", SkipgramConfig, "run folder (default: runs/skipgram/<timestamp>)")
    p.set_defaults(handler=train)

    p = command(
        commands,
        "evaluate",
        "WordSim-353, SimLex-999 and Google analogies",
        "Scores the run's vectors on WordSim-353 and SimLex-999 (Spearman) and the Google analogies "
        "(3CosAdd); writes RUN_DIR/eval.json.",
        "seqgraph skipgram evaluate --run runs/skipgram/brown",
    )
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="a run folder written by train")
    p.set_defaults(handler=evaluate)

    p = command(
        commands,
        "neighbors",
        "nearest words by cosine",
        "Prints the nearest words of each word by cosine similarity, one line each.",
        "seqgraph skipgram neighbors --run runs/skipgram/brown -k 5 king water",
    )
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="a run folder written by train")
    p.add_argument("-k", type=positive, default=10, help="neighbours per word")
    p.add_argument("words", nargs="+", metavar="WORD", help="a word")
    p.set_defaults(handler=neighbors)

    p = command(
        commands,
        "export",
        "SavedModel for TF Serving, TFLite, word2vec and projector files",
        "Writes a SavedModel for TF Serving (OUT/<version>/: words -> vectors, and nearest words), "
        "TFLite float and int8 lookups, vectors.txt (word2vec's text format) and vectors.tsv + "
        "metadata.tsv (TensorBoard's projector), each checked against the run's vectors first.",
        "seqgraph skipgram export --run runs/skipgram/brown --out saved_models/skipgram",
    )
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="a run folder written by train")
    p.add_argument("--out", default="saved_models/skipgram", help="the export folder (TF Serving's base path)")
    p.set_defaults(handler=export)


def train(args):
    from seqgraph.apps.skipgram.train import train

    return train(config_from(args), args.out, args.distribute, args.progress, args.threads)


def evaluate(args):
    from seqgraph.apps.skipgram.evaluate import evaluate

    return evaluate(args.run)


def neighbors(args):
    from seqgraph.apps.skipgram.evaluate import neighbors

    return neighbors(args.run, args.words, args.k)


def export(args):
    from seqgraph.apps.skipgram.serving import export

    return export(args.run, args.out)
