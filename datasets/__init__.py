"""Dataset readers and tf.data pipelines, one module per modality (``graphs``, ``images``,
``speech``, ``text``)."""


class DataError(ValueError):
    """Input data that cannot be used: the message names the file (and line or field) and what
    was expected. Each module raises its own subclass."""


def zip_errors():
    """What reading a damaged or unusual zip can raise (zipfile raises more than BadZipFile:
    NotImplementedError for an unknown compression, RuntimeError for encryption, ...)."""
    import zipfile
    import zlib

    return (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError, ValueError)
