"""``seqgraph image``: the command line (argparse only); each command calls its task."""

from seqgraph.apps.image.config import MODELS, ImageConfig
from seqgraph.cli import app_parser, command, config_from, positive, training_options


def add_parser(apps, name, summary):
    commands = app_parser(
        apps,
        name,
        summary,
        description=(
            "Image classification with self-attention: each image is a set of patch (or pixel) vectors with a "
            "2-D positional encoding, mixed by self-attention blocks; a CNN of similar size beside it. "
            "Attention rollout maps, the CNN-against-attention data scaling experiment, and export for TF "
            "Serving and TFLite."
        ),
    )
    d = ImageConfig()

    p = command(
        commands,
        "train",
        "train on the training split, score the test split",
        "Trains a vit, hybrid or cnn on the training split and scores the test split after each "
        "epoch. The run folder gets config.json, metrics.json, learning_curves.png and model.keras.",
        "seqgraph image train --model vit --patch-size 1 --out runs/image/vit",
    )
    data_options(p, d)
    p.add_argument(
        "--model",
        choices=MODELS,
        default=d.model,
        help="vit: patches (or pixels) as tokens; hybrid: a two-convolution stem, then attention; cnn",
    )
    network_options(p, d, epochs=d.epochs)
    p.add_argument("--seed", type=int, default=d.seed, help="initial weights, batch order and augmentation")
    training_options(p, "image", ImageConfig, "run folder (default: runs/image/<timestamp>)")
    p.set_defaults(handler=train)

    p = command(
        commands,
        "evaluate",
        "accuracy, per-class report and confusion matrix on the test split",
        "Scores the run's model on its test split: accuracy and a per-class report (RUN_DIR/eval.json) "
        "and a confusion matrix (RUN_DIR/confusion_matrix.png).",
        "seqgraph image evaluate --run runs/image/vit",
    )
    run_options(p)
    p.set_defaults(handler=evaluate)

    p = command(
        commands,
        "predict",
        "classify image files",
        "Prints the class of each image file (PNG or JPEG, converted to the model's channels and size), one line each.",
        "seqgraph image predict --run runs/image/vit digit.png",
    )
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="a run folder written by train")
    p.add_argument("inputs", nargs="+", metavar="IMAGE", help="a PNG or JPEG file")
    p.set_defaults(handler=predict)

    p = command(
        commands,
        "export",
        "SavedModel for TF Serving, TFLite float and int8",
        "Writes a SavedModel for TF Serving (OUT/<version>/) and TFLite float and int8 models beside "
        "it, each checked on the run's test images before it is published; the figures go to "
        "OUT/export.json.",
        "seqgraph image export --run runs/image/vit --out saved_models/image",
    )
    run_options(p)
    p.add_argument("--out", default="saved_models/image", help="the export folder (TF Serving's base path)")
    p.add_argument(
        "--int8",
        choices=["static", "dynamic"],
        default="static",
        help="static: int8 weights and activations, calibrated on training images; dynamic: int8 "
        "weights, activations quantised per call",
    )
    p.add_argument("--calibration-images", type=positive, default=500, help="training images to calibrate static int8")
    p.set_defaults(handler=export)

    p = command(
        commands,
        "attention-maps",
        "attention rollout over a few test images",
        "Draws the attention rollout (Abnar & Zuidema 2020) of a vit or hybrid run over a few test "
        "images, with their true and predicted classes: RUN_DIR/attention_maps.png.",
        "seqgraph image attention-maps --run runs/image/vit --count 8",
    )
    run_options(p)
    p.add_argument("--count", type=positive, default=8, help="test images to draw")
    p.set_defaults(handler=attention_maps)

    p = command(
        commands,
        "data-scaling",
        "CNN against self-attention as the training set grows",
        "Trains each model on growing stratified subsets of the training split (the same test split, "
        "the same number of updates for every size, several seeds) and writes data_scaling.json, "
        ".md and .png: where, if anywhere, self-attention overtakes the CNN.",
        "seqgraph image data-scaling --epochs 30 --out runs/image/data-scaling",
    )
    data_options(p, d)
    network_options(p, d, epochs=60)
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
    p.set_defaults(handler=data_scaling, config_class=ImageConfig)


def data_options(p, d):
    p.add_argument(
        "--dataset", default=d.dataset, help="digits (embedded, 8x8), mnist, fashion_mnist or cifar10 (downloaded)"
    )
    p.add_argument("--data-dir", help="a folder of class subfolders of PNG/JPEG images (instead of --dataset)")
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="resize the folder's images to H x W")
    p.add_argument("--test-fraction", type=float, default=d.test_fraction, help="share of images held out")
    p.add_argument("--split-seed", type=int, default=d.split_seed, help="seed of the stratified train/test split")


def network_options(p, d, epochs):
    p.add_argument("--epochs", type=int, default=epochs, help="passes over the training split")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="images per batch")
    p.add_argument("--lr", type=float, default=d.lr, help="AdamW's peak learning rate (5%% warmup, cosine to 0)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="AdamW's weight decay")
    p.add_argument("--no-augment", dest="augment", action="store_false", help="no random shifts")
    p.add_argument(
        "--patch-size",
        type=int,
        default=d.patch_size,
        help="the vit's patch side (1: every pixel is a token); the hybrid stem's stride",
    )
    p.add_argument("--dim", type=int, default=d.dim, help="token features")
    p.add_argument("--depth", type=int, default=d.depth, help="self-attention blocks")
    p.add_argument("--heads", type=int, default=d.heads, help="attention heads")
    p.add_argument("--mlp-dim", type=int, default=d.mlp_dim, help="hidden units of each block's MLP")
    p.add_argument("--dropout", type=float, default=d.dropout, help="dropout rate on the attention weights")
    p.add_argument(
        "--positional",
        choices=["sinusoidal", "learned"],
        default=d.positional,
        help="2-D sinusoidal or learned positional encoding",
    )
    p.add_argument("--pooling", choices=["mean", "class"], default=d.pooling, help="mean over tokens, or a class token")


def run_options(p):
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="a run folder written by train")
    p.add_argument("--data-dir", help="where the image folder is now, if it has moved since training")


def train(args):
    from seqgraph.apps.image.train import train

    return train(config_from(args), args.out, args.distribute, args.progress)


def evaluate(args):
    from seqgraph.apps.image.evaluate import evaluate

    return evaluate(args.run, args.data_dir)


def predict(args):
    from seqgraph.apps.image.evaluate import predict

    return predict(args.run, args.inputs)


def export(args):
    from seqgraph.apps.image.serving import export

    return export(args.run, args.out, args.data_dir, args.int8, args.calibration_images)


def attention_maps(args):
    from seqgraph.apps.image.attention_maps import attention_maps

    return attention_maps(args.run, args.data_dir, args.count)


def data_scaling(args):
    from seqgraph.apps.image.data_scaling import data_scaling

    args.model, args.seed = args.models[-1], 0  # replaced per run
    return data_scaling(config_from(args), args.models, args.fractions, args.seeds, args.out)
