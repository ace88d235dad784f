"""The package as a user meets it: one import name, the `seqgraph` command, its help, replaying a
run from its config.json, quiet start-up, and run folders in the form seqgraph 0.1 wrote them."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import seqgraph
from tests.helpers import tf_only

COMMANDS = {
    "graph": ["train", "evaluate", "export", "predict"],
    "image": ["train", "evaluate", "predict", "export", "attention-maps", "data-scaling"],
    "speech": ["train", "evaluate", "transcribe", "say", "export"],
    "skipgram": ["train", "evaluate", "neighbors", "export"],
}


def seqgraph_command(*args, check=True, env=None, cwd=None):
    result = subprocess.run(
        [sys.executable, "-m", "seqgraph", *map(str, args)],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        cwd=cwd,
        timeout=900,
    )
    if check:
        assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_one_import_name():
    from seqgraph import apps, datasets, layers

    root = Path(seqgraph.__file__).parent.parent
    assert Path(layers.__file__).parent in (root / "layers", Path(seqgraph.__file__).parent / "layers")
    assert hasattr(layers, "MultiHeadSelfAttention") and hasattr(datasets, "DataError") and apps.__doc__
    assert seqgraph.__version__.count(".") == 2


def test_version_and_help_need_no_tensorflow():
    out = seqgraph_command("--version").stdout
    assert out.strip() == f"seqgraph {seqgraph.__version__} (Python {sys.version.split()[0]})"
    from seqgraph.cli import build_parser

    code = "import sys; from seqgraph.cli import build_parser; build_parser(); print('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    assert build_parser().prog == "seqgraph"


@pytest.mark.parametrize("app", sorted(COMMANDS))
def test_every_command_has_help_with_a_description_defaults_and_an_example(app):
    from seqgraph.cli import build_parser

    parser = build_parser()
    app_help = _help(parser, [app])
    for command in COMMANDS[app]:
        assert f"    {command}" in app_help
        text = _help(parser, [app, command])
        assert f"usage: seqgraph {app} {command}" in text and f"example:\n  seqgraph {app} {command}" in text
        description = text.split("\n\n")[1]
        assert description.rstrip().endswith("."), description  # whole sentences
        undocumented = [a.dest for a in _subparser(parser, app, command)._actions if not a.help]
        assert not undocumented, undocumented  # every option has help text


def _subparser(parser, *names):
    import argparse

    for name in names:
        parser = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
    return parser


def _help(parser, argv):
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), pytest.raises(SystemExit):
        parser.parse_args([*argv, "--help"])
    return buffer.getvalue()


@tf_only
def test_train_config_replays_a_run_with_overrides(tmp_path):
    first = tmp_path / "first"
    seqgraph_command(
        "graph",
        "train",
        "--folds",
        "1",
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--layers",
        "2",
        "--seed",
        "3",
        "--progress",
        "none",
        "--out",
        first,
    )
    seqgraph_command(
        "graph",
        "train",
        "--config",
        first / "config.json",
        "--epochs",
        "2",
        "--progress",
        "none",
        "--out",
        tmp_path / "second",
    )
    a, b = (json.loads((tmp_path / run / "config.json").read_text()) for run in ("first", "second"))
    assert b["epochs"] == 2 and a["epochs"] == 1
    assert {k: v for k, v in a.items() if k != "epochs"} == {k: v for k, v in b.items() if k != "epochs"}
    assert a["app"] == "graph" and a["hidden"] == 8 and a["seed"] == 3
    result = seqgraph_command("image", "train", "--config", first / "config.json", check=False)
    assert result.returncode == 2 and "config of the graph app, not of image" in result.stderr


def test_bad_options_are_named():
    result = seqgraph_command("graph", "train", "--epochs", "0", check=False)
    assert result.returncode == 2 and "error: --epochs must be at least 1, got 0" in result.stderr
    result = seqgraph_command("image", "train", "--dim", "30", "--heads", "4", check=False)
    assert result.returncode == 2 and "--dim must be a multiple of --heads" in result.stderr
    assert "Traceback" not in result.stderr


@tf_only
def test_start_up_is_quiet_unless_verbose(old_run):
    run = old_run("graph")
    result = seqgraph_command(
        "graph",
        "predict",
        "--run",
        run,
        Path(seqgraph.apps.__file__).parent / "examples" / "graphs.json",
        env={k: v for k, v in os.environ.items() if not k.startswith("TF_")},
    )
    assert result.stderr == "" and len(result.stdout.splitlines()) == 3


# Tiny training runs (train options) that the tests rewrite into seqgraph 0.1's form.
TINY_RUNS = {
    "graph": ["--folds", "1", "--epochs", "1", "--hidden", "8", "--layers", "2"],
    "image": ["--epochs", "1", "--dim", "16", "--depth", "1", "--heads", "2", "--mlp-dim", "16", "--patch-size", "2"],
    "skipgram": ["--epochs", "1", "--dim", "8", "--min-count", "20"],
    "speech": [
        "--synthetic-takes",
        "6",
        "--utterances",
        "16",
        "--valid-utterances",
        "8",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--dim",
        "16",
        "--blocks",
        "1",
        "--heads",
        "2",
        "--window",
        "4",
        "--ffn-dim",
        "16",
        "--lstm-units",
        "8",
    ],
}


@pytest.fixture(scope="module")
def old_run(tmp_path_factory):
    """``old_run(app)``: a tiny run of ``app`` in the form seqgraph 0.1 wrote it (made once per
    app). 0.1's files differ from today's in two ways: model.keras names the layers' modules
    ``layers.graph`` (today ``seqgraph.layers.graph``), and config.json is the flat dump of 0.1's
    argparse options (the command's own options beside the facts, no ``app``)."""
    root = tmp_path_factory.mktemp("runs-0.1")
    env = {**os.environ, "SEQGRAPH_CACHE": str(root / "cache")}
    made = {}

    def make(app):
        if app not in made:
            run = root / app
            seqgraph_command(app, "train", *TINY_RUNS[app], "--progress", "none", "--out", run, env=env)
            as_written_by_seqgraph_0_1(run)
            made[app] = run
        return made[app]

    return make


def as_written_by_seqgraph_0_1(run):
    import zipfile

    config = json.loads((run / "config.json").read_text())
    del config["app"], config["seqgraph_version"]
    config.update(command="train", out=str(run), distribute="default", verbose=0)
    for new, old in (("corpus_path", "corpus"), ("dataset_name", "dataset")):
        if new in config:
            config[old] = config.pop(new)
    (run / "config.json").write_text(json.dumps(config, indent=2))
    with zipfile.ZipFile(run / "model.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    model_config = members["config.json"].decode()
    assert '"module": "seqgraph.layers.' in model_config
    members["config.json"] = model_config.replace('"module": "seqgraph.layers.', '"module": "layers.').encode()
    with zipfile.ZipFile(run / "model.keras", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def copy_of(run, tmp_path):
    return shutil.copytree(run, tmp_path / run.name)


@tf_only
@pytest.mark.parametrize("app, expected", [("graph", "accuracy"), ("image", "accuracy"), ("skipgram", "wordsim353")])
def test_runs_of_seqgraph_0_1_still_evaluate(app, expected, old_run, tmp_path):
    run = copy_of(old_run(app), tmp_path)
    seqgraph_command(app, "evaluate", "--run", run)
    assert expected in json.loads((run / "eval.json").read_text())


@tf_only
def test_a_speech_run_of_seqgraph_0_1_still_transcribes(old_run, tmp_path):
    import soundfile

    run = old_run("speech")
    soundfile.write(tmp_path / "noise.wav", np.random.default_rng(0).normal(0, 0.1, 8000), 8000)
    out = seqgraph_command("speech", "transcribe", "--run", run, tmp_path / "noise.wav").stdout
    assert out.startswith(f"{tmp_path / 'noise.wav'}: ")


def documented_commands():
    """Every `seqgraph ...` command shown in the README and the guides: in code blocks (with
    line continuations joined and comments dropped) and in backticks."""
    import re
    import shlex

    root = Path(__file__).parent.parent
    found = []
    for doc in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        text = doc.read_text().replace("\\\n", " ")
        command = r"seqgraph (?:graph|skipgram|image|speech|examples|layer-demo)\b"
        lines = re.findall(rf"^\s*(?:\$ )?({command}[^\n`]*)$", text, re.M) + re.findall(rf"`({command}[^`]*)`", text)
        for line in lines:
            line = re.sub(r"\s+#.*$", "", line).strip()
            argv = shlex.split(line)[1:]
            placeholder = "<" in line or "..." in line or len(argv) < 2 or argv[1].isupper()  # <app>, COMMAND
            if not placeholder and "--help" not in argv:
                found.append((doc.name, argv))
    return found


@pytest.mark.parametrize("doc, argv", documented_commands(), ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_documented_commands_parse(doc, argv):
    """The commands the docs show exist with the options they show (make demo runs the quick ones)."""
    from seqgraph.cli import build_parser

    build_parser().parse_args(argv)


def documented_python():
    """The Python examples of the README and docs/layers.md that need no exported model."""
    import re

    root = Path(__file__).parent.parent
    blocks = []
    for doc in (root / "README.md", root / "docs" / "layers.md"):
        for i, block in enumerate(re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)):
            if "saved_models" not in block:
                blocks.append(pytest.param(block, id=f"{doc.name}-{i}"))
    return blocks


@pytest.mark.parametrize("block", documented_python())
def test_documented_python_examples_run(block):
    exec("import keras, numpy as np\nfrom seqgraph import layers\n" + block, {})
