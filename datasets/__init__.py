"""Dataset readers and tf.data pipelines, one module per modality (``graphs``, ``images``,
``speech``, ``text``)."""


class DataError(ValueError):
    """Input data that cannot be used: the message names the file (and line or field) and what
    was expected. Each module raises its own subclass."""
