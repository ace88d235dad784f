"""Image classification with self-attention: each image is a set of patch (or pixel) vectors with
a 2-D positional encoding; a CNN of similar size beside it, attention rollout maps, and the data
scaling experiment (CNN vs self-attention as the training set grows).

``config`` (the options), ``model`` (the vit, hybrid and cnn), ``train``, ``evaluate`` (and
``predict``), ``attention_maps``, ``data_scaling``, ``serving`` (signatures and export), ``cli``
(``seqgraph image``).
"""
