"""seqgraph layers: Keras 3, backend-agnostic (keras.ops; TensorFlow fast paths where measured),
serializable."""

from layers.attention import MultiHeadSelfAttention
from layers.ctc import CTCLoss, ctc_beam_decode, ctc_greedy_decode, ctc_loss
from layers.embedding import CBOW, SkipGram, negative_sampling_loss
from layers.graph import ChebConv, GATConv, GCNConv, GINConv, GraphPooling, GraphSAGEConv
from layers.normalization import FusedBatchNormalization
from layers.positional import (ClassToken, LearnedPositionalEmbedding, SinusoidalPositionalEncoding,
                               SinusoidalPositionalEncoding2D)
from layers.preprocessing import MelSpectrogram, SequenceMask, SpecAugment, Standardize
from layers.recurrent import PeepholeLSTM, PeepholeLSTMCell

__all__ = [
    "MultiHeadSelfAttention", "SinusoidalPositionalEncoding", "LearnedPositionalEmbedding",
    "SinusoidalPositionalEncoding2D", "PeepholeLSTMCell", "PeepholeLSTM", "GINConv", "GATConv",
    "ChebConv", "GCNConv", "GraphSAGEConv", "GraphPooling", "FusedBatchNormalization", "SkipGram",
    "CBOW", "negative_sampling_loss", "CTCLoss", "ctc_loss", "ctc_greedy_decode", "ctc_beam_decode",
    "Standardize", "ClassToken", "SequenceMask", "SpecAugment", "MelSpectrogram",
]
