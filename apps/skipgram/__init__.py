"""Word embeddings: skip-gram or CBOW with negative sampling (Mikolov et al. 2013) on a text
corpus, evaluated on WordSim-353, SimLex-999 and Google analogies, exported for gensim,
TensorBoard's projector, TF Serving and TFLite.

``config`` (the options), ``model`` (the networks and word2vec's SGD), ``train``, ``evaluate``
(and ``neighbors``), ``serving`` (signatures and export), ``cli`` (``seqgraph skipgram``).
"""
