"""seqgraph layers: Keras 3, backend-agnostic (keras.ops; TensorFlow fast paths where measured),
serializable."""

from seqgraph.layers.attention import MultiHeadSelfAttention
from seqgraph.layers.ctc import CTCLoss, ctc_beam_decode, ctc_greedy_decode, ctc_loss
from seqgraph.layers.embedding import CBOW, SkipGram, negative_sampling_loss
from seqgraph.layers.graph import ChebConv, GATConv, GCNConv, GINConv, GraphPooling, GraphSAGEConv
from seqgraph.layers.normalization import FusedBatchNormalization
from seqgraph.layers.positional import (
    ClassToken,
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    SinusoidalPositionalEncoding2D,
)
from seqgraph.layers.preprocessing import (
    MelSpectrogram,
    SequenceMask,
    SpecAugment,
    Standardize,
    UtteranceMeanNormalization,
    VocalTractLengthPerturbation,
)
from seqgraph.layers.recurrent import PeepholeLSTM, PeepholeLSTMCell

__all__ = [
    "MultiHeadSelfAttention",
    "SinusoidalPositionalEncoding",
    "LearnedPositionalEmbedding",
    "SinusoidalPositionalEncoding2D",
    "PeepholeLSTMCell",
    "PeepholeLSTM",
    "GINConv",
    "GATConv",
    "ChebConv",
    "GCNConv",
    "GraphSAGEConv",
    "GraphPooling",
    "FusedBatchNormalization",
    "SkipGram",
    "CBOW",
    "negative_sampling_loss",
    "CTCLoss",
    "ctc_loss",
    "ctc_greedy_decode",
    "ctc_beam_decode",
    "Standardize",
    "ClassToken",
    "SequenceMask",
    "SpecAugment",
    "MelSpectrogram",
    "VocalTractLengthPerturbation",
    "UtteranceMeanNormalization",
]
