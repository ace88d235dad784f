"""``python -m seqgraph.apps.skipgram``: the same as ``seqgraph skipgram``."""

import sys

from seqgraph.cli import main

main(["skipgram", *sys.argv[1:]])
