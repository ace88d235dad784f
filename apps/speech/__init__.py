"""Speech recognition: waveform -> log-mel features (in the model) -> convolutional subsampling ->
truncated multi-head self-attention blocks -> bidirectional peephole LSTM -> CTC over characters.

``config`` (the options), ``model`` (the recogniser and its CTC trainer), ``train``,
``evaluate`` (and ``transcribe``, ``say``), ``serving`` (signatures and export), ``cli``
(``seqgraph speech``).
"""
