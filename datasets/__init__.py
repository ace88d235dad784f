"""Dataset readers and tf.data pipelines, one module per modality."""
