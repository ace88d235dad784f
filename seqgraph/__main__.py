"""``python -m seqgraph``: the ``seqgraph`` command."""

from seqgraph.cli import main

main()
