"""``seqgraph image``: the command line (argparse only); each command names the task it runs."""

from seqgraph.apps.image.config import MODELS, ImageConfig
from seqgraph.cli import (
    app_parser,
    command,
    config_options,
    export_command,
    positive,
    query_command,
    run_option,
    train_command,
)

MOVED = "where the image folder is now, if it has moved since training"

DESCRIPTION = (
    "Image classification with self-attention: each image is a set of patch (or pixel) vectors with a 2-D "
    "positional encoding, mixed by self-attention blocks; a CNN of similar size beside it. Attention rollout "
    "maps, the CNN-against-attention data scaling experiment, and export for TF Serving and TFLite."
)


def add_parser(apps, name, summary):
    commands = app_parser(apps, name, summary, DESCRIPTION)
    train_command(
        commands,
        "image",
        ImageConfig,
        "train on the training split, score the test split",
        "Trains a vit, hybrid or cnn on the training split and scores the test split after each epoch. The "
        "run folder gets config.json, metrics.json, learning_curves.png and model.keras.",
        "seqgraph image train --model vit --patch-size 1 --out runs/image/vit",
    )
    run_option(
        command(
            commands,
            "evaluate",
            "seqgraph.apps.image.evaluate:evaluate",
            "accuracy, per-class report and confusion matrix on the test split",
            "Scores the run's model on its test split: accuracy and a per-class report (RUN_DIR/eval.json) "
            "and a confusion matrix (RUN_DIR/confusion_matrix.png).",
            "seqgraph image evaluate --run runs/image/vit",
        ),
        MOVED,
    )
    p = command(
        commands,
        "predict",
        "seqgraph.apps.image.evaluate:predict",
        "classify image files",
        "Prints the class of each image file (PNG or JPEG, converted to the model's channels and size), one line each.",
        "seqgraph image predict --run runs/image/vit digit.png",
    )
    run_option(p)
    p.add_argument("inputs", nargs="+", metavar="IMAGE", help="a PNG or JPEG file")
    query_command(
        commands,
        "image",
        "image files",
        "a PNG or JPEG file (all in one request)",
        "seqgraph image query --server localhost:8500 --grpc digit.png",
    )
    p = export_command(commands, "image", "the run's test images", int8="static", data_dir_help=MOVED)
    p.add_argument("--calibration-images", type=positive, default=500, help="training images to calibrate static int8")
    p = command(
        commands,
        "attention-maps",
        "seqgraph.apps.image.attention_maps:attention_maps",
        "attention rollout over a few test images",
        "Draws the attention rollout (Abnar & Zuidema 2020) of a vit or hybrid run over a few test images, "
        "with their true and predicted classes: RUN_DIR/attention_maps.png.",
        "seqgraph image attention-maps --run runs/image/vit --count 8",
    )
    run_option(p, MOVED)
    p.add_argument("--count", type=positive, default=8, help="test images to draw")
    p = command(
        commands,
        "data-scaling",
        "seqgraph.apps.image.data_scaling:data_scaling",
        "CNN against self-attention as the training set grows",
        "Trains each model on growing stratified subsets of the training split (the same test split, the "
        "same number of updates for every size, several seeds) and writes data_scaling.json, .md and .png: "
        "where, if anywhere, self-attention overtakes the CNN.",
        "seqgraph image data-scaling --epochs 30 --out runs/image/data-scaling",
    )
    config_options(p, ImageConfig, exclude=("model", "seed"))
    p.add_argument(
        "--models", nargs=2, choices=MODELS, default=["cnn", "vit"], metavar="MODEL", help="the two models to compare"
    )
    p.add_argument(
        "--fractions",
        type=float,
        nargs="+",
        default=[0.1, 0.25, 0.5, 1.0],
        help="shares of the training split, in (0, 1]",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="a run per seed and size")
    p.add_argument("--out", metavar="DIR", help="output folder (default: runs/image-scaling/<timestamp>)")
    p.set_defaults(config_class=ImageConfig, epochs=60, model="vit", seed=0)  # each run sets its model and seed
