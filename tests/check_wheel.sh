#!/usr/bin/env bash
# The wheel as a user meets it: built from this checkout, installed in a clean virtual
# environment beside Hugging Face `datasets`, and run from another folder that holds a
# `datasets/` package and a `layers.py` of its own. Usage: tests/check_wheel.sh [PYTHON]
set -euo pipefail
python=${1:-python3}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { echo "check_wheel: $*"; }

step "building the wheel"
"$python" -m venv "$work/venv"
venv="$work/venv/bin"
"$venv/python" -m pip install --quiet --upgrade pip
mkdir "$work/src"  # a copy: building writes build/ and *.egg-info beside the sources
tar -C "$root" --exclude=./.venv --exclude=./.git --exclude=./runs --exclude=./saved_models -cf - . | tar -C "$work/src" -xf -
"$venv/python" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$work/src"
wheel=$(ls "$work"/dist/seqgraph-*.whl)
top_level=$("$venv/python" -c "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print(*[z.read(n).decode().strip() for n in z.namelist() if n.endswith('.dist-info/top_level.txt')])" "$wheel")
[ "$top_level" = "seqgraph" ] || { echo "top_level.txt lists: $top_level"; exit 1; }

step "installing it beside Hugging Face datasets"
"$venv/python" -m pip install --quiet "$wheel" datasets

step "running the graph app from another folder"
mkdir -p "$work/user/datasets"
cd "$work/user"
echo 'raise ImportError("the user folder datasets/ was imported")' > datasets/__init__.py
echo 'raise ImportError("the user module layers.py was imported")' > layers.py
export TF_CPP_MIN_LOG_LEVEL=3
"$venv/seqgraph" --version
"$venv/seqgraph" graph train --dataset synthetic --folds 1 --epochs 2 --progress none --out runs/graph/wheel
"$venv/seqgraph" graph export --run runs/graph/wheel --out saved_models/graph
"$venv/seqgraph" examples examples
"$venv/seqgraph" graph predict --run runs/graph/wheel examples/graphs.json
rm -r datasets layers.py

step "Hugging Face datasets still imports, and after seqgraph is uninstalled too"
"$venv/python" -c "import datasets; datasets.load_dataset; print('datasets', datasets.__version__)"
"$venv/python" -m pip uninstall --quiet --yes seqgraph
"$venv/python" -c "import datasets; datasets.load_dataset; print('datasets', datasets.__version__)"
step "passed"
