"""Benchmarks against peers: each runs ours and a peer in the same process run and reports ratios."""
