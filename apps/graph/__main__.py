"""``python -m seqgraph.apps.graph``: the same as ``seqgraph graph``."""

import sys

from seqgraph.cli import main

main(["graph", *sys.argv[1:]])
