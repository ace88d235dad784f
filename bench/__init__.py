"""Benchmarks against peers: each runs ours and a peer in the same process run and reports ratios.

Importing the package hides TensorFlow's start-up messages, as the ``seqgraph`` command does.
"""

from seqgraph.cli import quiet_tensorflow

quiet_tensorflow()
