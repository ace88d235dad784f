"""Graph classification: TU datasets (or the embedded generated one), GIN/GAT/Cheb/GCN/SAGE in
Xu et al.'s layout, stratified k-fold evaluation, export to TF Serving and TFLite.

``config`` (the options), ``model`` (builds the network), ``train``, ``evaluate`` (and
``predict``), ``serving`` (signatures and export), ``cli`` (``seqgraph graph``).
"""
