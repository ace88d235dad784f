"""seqgraph: the models of a lecture on structured inputs as Keras 3 layers and four apps.

``seqgraph.layers`` (self-attention, positional encodings, the peephole LSTM, CTC, graph
networks, skip-gram/CBOW), ``seqgraph.datasets`` (readers and tf.data pipelines) and
``seqgraph.apps`` (graph classification, word embeddings, image self-attention, speech
recognition; the ``seqgraph`` command). In a source checkout these are the top-level folders
``layers/``, ``datasets/`` and ``apps/``, mapped to one import name by setuptools.
"""

__version__ = "0.2.0"
