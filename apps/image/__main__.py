"""``python -m seqgraph.apps.image``: the same as ``seqgraph image``."""

import sys

from seqgraph.cli import main

main(["image", *sys.argv[1:]])
