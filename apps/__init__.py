"""seqgraph apps: one CLI module per app (python -m apps.<app>)."""
