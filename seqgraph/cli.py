"""The ``seqgraph`` command: ``seqgraph <app> <command> [options]``.

Each app's ``cli.py`` adds its commands with the helpers here, so every app has the same shape
(``train``, ``evaluate``, ``export``, ...), the same common options and the same help layout.
TensorFlow's start-up messages are hidden unless ``-v`` is given.
"""

import argparse
import dataclasses
import functools
import importlib
import inspect
import os
import sys

import seqgraph

APPS = {
    "graph": "graph classification: GIN, GAT, ChebConv, GCN and GraphSAGE on TU datasets",
    "skipgram": "word embeddings: skip-gram and CBOW with negative sampling",
    "image": "image classification with self-attention (ViT, a hybrid, a CNN beside them)",
    "speech": "speech recognition: self-attention, a bidirectional peephole LSTM and CTC",
}

EXAMPLES = """examples:
  seqgraph graph train --dataset synthetic --folds 1 --epochs 30 --out runs/graph/demo
  seqgraph graph predict --run runs/graph/demo graphs.json
  seqgraph speech transcribe --run runs/speech/demo hello.wav
  seqgraph graph train --help          options of one command

Each app also runs as `python -m seqgraph.apps.<app>`."""


class HelpFormatter(argparse.HelpFormatter):
    """Wraps descriptions but keeps indented lines (examples) as they are, and shows each
    option's default where it has one."""

    def _fill_text(self, text, width, indent):
        return "\n".join(
            line if line.startswith("  ") or not line else super(HelpFormatter, self)._fill_text(line, width, indent)
            for line in text.splitlines()
        )

    def _get_help_string(self, action):
        help = action.help or ""
        unset = action.default is None or action.default is argparse.SUPPRESS or action.nargs == 0
        if "%(default)" in help or unset or not action.option_strings:
            return help
        return f"{help} (default: %(default)s)"


def main(argv=None):
    """Run ``seqgraph`` with ``argv`` (default: the command line)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "config", None):  # --config FILE: its options become the defaults
        options, _ = _load_config(args)
        args.parser.set_defaults(**dataclasses.asdict(options))
        args = parser.parse_args(argv)
    if not args.verbose:
        quiet_tensorflow()
    from seqgraph.apps.client import ServerError
    from seqgraph.apps.common import ConfigError, RunError, TrainingError
    from seqgraph.apps.export import ExportError
    from seqgraph.datasets import DataError

    try:
        args.handler(args)
    except (DataError, ConfigError, ExportError, RunError, TrainingError, ServerError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except OSError as e:
        if e.errno is None:
            raise
        print(f"error: {e.filename}: {e.strerror}" if e.filename else f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt as e:
        print(str(e) or "interrupted", file=sys.stderr)
        raise SystemExit(130) from None


def build_parser():
    parser = argparse.ArgumentParser(
        prog="seqgraph",
        formatter_class=HelpFormatter,
        epilog=EXAMPLES,
        description="Train, evaluate, export and query the seqgraph apps. Run `seqgraph APP --help` for "
        "an app's commands.",
    )
    parser.add_argument(
        "--version", action="version", version=f"seqgraph {seqgraph.__version__} (Python {sys.version.split()[0]})"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="show TensorFlow's start-up messages and warnings")
    apps = parser.add_subparsers(dest="app", required=True, metavar="APP")
    for name, summary in APPS.items():
        importlib.import_module(f"seqgraph.apps.{name}.cli").add_parser(apps, name, summary)
    examples = command(
        apps,
        "examples",
        "seqgraph.cli:copy_examples",
        "copy the example inputs that the README uses into a folder",
        "Copies the example inputs that ship with seqgraph (graphs.json for the graph app, three "
        "digit PNGs for the image app) into a folder, and lists them.",
        "seqgraph examples examples/",
    )
    examples.add_argument("out", nargs="?", default="examples", metavar="DIR", help="the folder to copy them into")
    demo = command(
        apps,
        "layer-demo",
        "seqgraph.apps.layer_demo:run",
        "train one tiny model per layer family on generated data",
        "Trains one tiny model per layer family (attention, recurrent, graph, embedding, CTC) on "
        "data generated from a seed, and prints a line for each. No files, no network.",
        "seqgraph layer-demo --only graph ctc --seed 1",
    )
    demo.add_argument("--seed", type=int, default=0, help="seed of the generated data and the weights")
    demo.add_argument(
        "--only",
        nargs="+",
        metavar="FAMILY",
        choices=["attention", "recurrent", "graph", "embedding", "ctc"],
        help="run only these families",
    )
    return parser


def copy_examples(out):
    """Copy the package's example inputs (``seqgraph/apps/examples``) into the folder ``out``."""
    import shutil
    from pathlib import Path

    source = Path(importlib.import_module("seqgraph.apps").__file__).parent / "examples"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        shutil.copyfile(path, out / path.name)
        print(out / path.name)


def app_parser(apps, name, summary, description):
    """The parser of ``seqgraph <name>`` and the subparsers of its commands."""
    parser = apps.add_parser(
        name,
        help=summary,
        description=description,
        formatter_class=HelpFormatter,
        epilog=f"Run `seqgraph {name} COMMAND --help` for a command's options.",
    )
    return parser.add_subparsers(dest="command", required=True, metavar="COMMAND")


def command(commands, name, task, summary, description, example):
    """A command's parser, with ``-v``: ``summary`` for the list of commands, ``description``
    (whole sentences) and an ``example`` line on its help page. ``task`` (``"module:function"``)
    runs the command (see ``run_task``)."""
    parser = commands.add_parser(
        name, help=summary, description=description, formatter_class=HelpFormatter, epilog=f"example:\n  {example}"
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show TensorFlow's start-up messages and warnings",
    )
    parser.set_defaults(handler=functools.partial(run_task, task))
    return parser


def run_task(task, args):
    """Import ``task`` (``"module:function"``) and call it with the parsed options of the same
    names as its parameters; a parameter ``config`` gets the typed config of a ``train``.
    Importing only now keeps ``--help`` fast, and TensorFlow's start-up quiet."""
    if hasattr(args, "distribute"):  # the strategy comes first, before any TF op (multi-worker needs it)
        from seqgraph.apps.common import strategy

        strategy(args.distribute)
    module, name = task.split(":")
    function = getattr(importlib.import_module(module), name)
    values = {}
    for parameter in inspect.signature(function).parameters:
        if parameter == "config":
            values["config"] = config_from(args)
        elif hasattr(args, parameter):
            values[parameter] = getattr(args, parameter)
    return function(**values)


def run_option(parser, data_dir_help=None):
    """``--run RUN_DIR`` (required), and ``--data-dir`` for the data's new place when helped."""
    parser.add_argument("--run", required=True, metavar="RUN_DIR", help="a run folder written by train")
    if data_dir_help:
        parser.add_argument("--data-dir", help=data_dir_help)


def train_command(commands, app, config_class, summary, description, example):
    """An app's ``train``: the options of ``config_class`` and those every ``train`` shares
    (--config, --out, --distribute, --progress); the task ``seqgraph.apps.<app>.train:train``."""
    parser = command(commands, "train", f"seqgraph.apps.{app}.train:train", summary, description, example)
    config_options(parser, config_class)
    training_options(parser, app, config_class)
    return parser


def export_command(commands, app, checked_on, int8=None, data_dir_help=None, summary=None, description=None):
    """An app's ``export`` (the task ``seqgraph.apps.<app>.serving:export``): ``--run``, ``--out``
    (TF Serving's base path for the app), ``--label``, ``--serving-base`` and, when the app
    quantises activations, ``--int8`` (``int8`` the default); the exports are checked on
    ``checked_on``. Also adds ``label``, which moves a version label of the exports."""
    parser = command(
        commands,
        "export",
        f"seqgraph.apps.{app}.serving:export",
        summary or "SavedModel for TF Serving, TFLite float and int8",
        description
        or f"Writes a new version OUT/<version>/: a SavedModel for TF Serving (with warmup requests) and TFLite "
        f"float and int8 models beside it, each checked on {checked_on} before the version is published; the "
        "figures go to OUT/<version>/export.json. models.config one folder up gets the new version under "
        "--label.",
        f"seqgraph {app} export --run runs/{app}/demo --out saved_models/{app}",
    )
    run_option(parser, data_dir_help)
    parser.add_argument("--out", default=f"saved_models/{app}", help="the export folder (TF Serving's base path)")
    parser.add_argument(
        "--label",
        default="stable",
        help="the version label of the new version in models.config: stable (what clients get), or canary "
        "to try it beside stable",
    )
    parser.add_argument(
        "--serving-base",
        metavar="DIR",
        help="where the export root is inside TF Serving, for models.config's base paths "
        "(default: as models.config has them, else /models)",
    )
    if int8:
        parser.add_argument(
            "--int8",
            choices=["dynamic", "static"],
            default=int8,
            help="dynamic: int8 weights, activations quantised per call; static: int8 activations too, "
            "calibrated on training data (integer-only hardware)",
        )
    label = command(
        commands,
        "label",
        "seqgraph.apps.tf_serving:label",
        "move a version label (stable, canary) in models.config",
        f"Gives VERSION of saved_models/{app} (or --out) the label NAME in models.config: promote a canary "
        "to stable, or roll stable back. TF Serving loads the labelled versions.",
        f"seqgraph {app} label stable 3",
    )
    label.add_argument("name", metavar="NAME", help="the label: stable, canary, or any of [A-Za-z0-9_]+")
    label.add_argument("version", metavar="VERSION", type=positive, help="an exported version number")
    label.add_argument("--out", dest="app_dir", default=f"saved_models/{app}", help="the export folder")
    return parser


def query_command(commands, app, what, inputs_help, example):
    """An app's ``query`` (the task ``seqgraph.apps.<app>.serving:query``): sends ``what`` to a
    TF Serving server and prints what ``predict`` prints; ``--server``, ``--grpc``, ``--model``,
    ``--label`` and the inputs."""
    parser = command(
        commands,
        "query",
        f"seqgraph.apps.{app}.serving:query",
        f"send {what} to TF Serving (REST or gRPC)",
        f"Sends {what} to a TF Serving server that serves this app's export, by REST (default) or gRPC, and "
        "prints the same lines as the app's local command.",
        example,
    )
    parser.add_argument(
        "--server",
        default="localhost:8501",
        metavar="HOST:PORT",
        help="the server's REST port (8501 in TF Serving's image), or its gRPC port (8500) with --grpc",
    )
    parser.add_argument("--grpc", action="store_true", help="use gRPC (PredictionService) instead of REST")
    parser.add_argument("--model", default=app, help="the model's name in models.config")
    parser.add_argument("--label", help="a version label (stable, canary); default: the newest loaded version")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for an answer")
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help=inputs_help)
    return parser


def config_options(parser, config_class, exclude=()):
    """An ``--option`` for each field of ``config_class`` (made with ``apps.common.option``):
    its default, type and help; a bool field True by default becomes ``--no-<name>``, one False
    ``--<name>``."""
    for field in dataclasses.fields(config_class):
        if field.name in exclude:
            continue
        keywords = dict(field.metadata)
        flag = "--" + field.name.replace("_", "-")
        if field.type is bool:
            flags = ["--no-" + field.name.replace("_", "-")] if field.default else [flag]
            action = "store_false" if field.default else "store_true"
            parser.add_argument(*flags, dest=field.name, action=action, **keywords)
        else:
            keywords.setdefault("type", field.type)
            parser.add_argument(flag, default=field.default, **keywords)


def training_options(parser, app, config_class):
    """The options every ``train`` shares: --config, --out, --overwrite, --distribute and --progress."""
    parser.add_argument(
        "--config", metavar="CONFIG_JSON", help="replay a run: its config.json's options, overridden by any given here"
    )
    parser.add_argument(
        "--out",
        metavar="RUN_DIR",
        help=f"the run folder (default: runs/{app}/<timestamp>); an unfinished run there is resumed",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="start again in --out, replacing the run there (finished or not)"
    )
    parser.add_argument(
        "--distribute",
        choices=["default", "mirrored", "multiworker"],
        default="default",
        help="tf.distribute strategy: one device, the local devices, or the workers in TF_CONFIG",
    )
    parser.add_argument(
        "--progress",
        choices=["bar", "epoch", "none"],
        default="bar",
        help="Keras' progress bar, a line per epoch, or nothing",
    )
    parser.set_defaults(parser=parser, app_name=app, config_class=config_class)


def positive(text):
    """argparse type: an int of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def config_from(args):
    """The typed config of a ``train`` command from its parsed options."""
    cls = args.config_class
    return cls(**{f.name: getattr(args, f.name, f.default) for f in dataclasses.fields(cls)})


def _load_config(args):
    from seqgraph.apps.common import ConfigError, load_config

    try:
        return load_config(args.config_class, args.config, args.app_name)
    except (ConfigError, TypeError) as e:
        args.parser.error(f"--config {args.config}: {e}")


def quiet_tensorflow():
    """Hide TensorFlow's and LiteRT's start-up messages (oneDNN, CUDA drivers, XNNPACK): C++ log
    lines below errors through TF_CPP_MIN_LOG_LEVEL=3 (unless the user set it), those printed
    while the libraries load by sending stderr to /dev/null meanwhile
    (``apps.common.native_messages_hidden``), TensorFlow's Python warnings through its logger."""
    from seqgraph.apps import common

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    common.QUIET = True
    with common.native_messages_hidden():
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")
