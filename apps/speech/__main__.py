"""``python -m seqgraph.apps.speech``: the same as ``seqgraph speech``."""

import sys

from seqgraph.cli import main

main(["speech", *sys.argv[1:]])
