"""``seqgraph skipgram``: the command line (argparse only); each command names the task it runs."""

from seqgraph.apps.skipgram.config import SkipgramConfig
from seqgraph.cli import app_parser, command, export_command, positive, query_command, run_option, train_command

DESCRIPTION = (
    "Word vectors with skip-gram or CBOW and negative sampling (Mikolov et al. 2013), trained with word2vec's "
    "SGD on a text corpus, scored on WordSim-353, SimLex-999 and the Google analogies, and exported for TF "
    "Serving, TFLite, gensim and TensorBoard's projector."
)


def add_parser(apps, name, summary):
    commands = app_parser(apps, name, summary, DESCRIPTION)
    p = train_command(
        commands,
        "skipgram",
        SkipgramConfig,
        "learn word vectors, score them",
        "Learns word vectors from a corpus (gensim's Lee corpus without --corpus) and scores them. The "
        "run folder gets config.json, vocab.tsv, model.keras, metrics.json and loss.png.",
        "seqgraph skipgram train --corpus data/brown.zip --epochs 5 --out runs/skipgram/brown",
    )
    p.add_argument(
        "--threads",
        type=positive,
        help="TF threads for the training step (default: all cores but one, which makes the batches)",
    )
    run_option(
        command(
            commands,
            "evaluate",
            "seqgraph.apps.skipgram.evaluate:evaluate",
            "WordSim-353, SimLex-999 and Google analogies",
            "Scores the run's vectors on WordSim-353 and SimLex-999 (Spearman) and the Google analogies "
            "(3CosAdd); writes RUN_DIR/eval.json.",
            "seqgraph skipgram evaluate --run runs/skipgram/brown",
        )
    )
    p = command(
        commands,
        "neighbors",
        "seqgraph.apps.skipgram.evaluate:neighbors",
        "nearest words by cosine",
        "Prints the nearest words of each word by cosine similarity, one line each.",
        "seqgraph skipgram neighbors --run runs/skipgram/brown -k 5 king water",
    )
    run_option(p)
    p.add_argument("-k", type=positive, default=10, help="neighbours per word")
    p.add_argument("words", nargs="+", metavar="WORD", help="a word")
    p = query_command(
        commands,
        "skipgram",
        "words",
        "a word (all in one request to the `nearest` signature)",
        "seqgraph skipgram query --server localhost:8501 -k 5 king water",
    )
    p.add_argument("-k", type=positive, default=10, help="neighbours per word")
    export_command(
        commands,
        "skipgram",
        None,
        summary="SavedModel for TF Serving, TFLite, word2vec and projector files",
        description="Writes a SavedModel for TF Serving (OUT/<version>/: words -> vectors, and nearest "
        "words), TFLite float and int8 lookups, vectors.txt (word2vec's text format) and vectors.tsv + "
        "metadata.tsv (TensorBoard's projector), each checked against the run's vectors first.",
    )
