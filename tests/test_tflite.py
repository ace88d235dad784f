"""Every layer converts to TFLite with builtin ops only and matches Keras in the interpreter,
with dynamic sequence lengths and numbers of nodes and edges (the edge contract of DESIGN.md)."""

import numpy as np
import pytest

from tests.helpers import tf_only, to_numpy
from tests.test_serialization import CASES, _randomise

# Keras RNN loops need a fixed batch size to become a builtin WHILE loop (EXPORT-NOTES.md).
FIXED_BATCH = {"peephole_lstm", "bidirectional"}


@tf_only
@pytest.mark.parametrize("name", CASES)
def test_converts_to_builtin_tflite(tmp_path, name):
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    model, data = CASES[name]()
    _randomise(model)
    if name in FIXED_BATCH:
        data = data[:1]
        model.export(
            str(tmp_path),
            verbose=False,
            input_signature=[tf.TensorSpec((1, None, data.shape[-1]), tf.float32, name=model.inputs[0].name)],
        )
    else:
        model.export(str(tmp_path), verbose=False)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = Interpreter(model_content=converter.convert())

    arrays = data if isinstance(data, list) else [data]
    by_name = {t.name: a for t, a in zip(model.inputs, arrays)}
    feeds = []
    for detail in interpreter.get_input_details():
        (array,) = [a for n, a in by_name.items() if detail["name"] == f"serving_default_{n}:0"]
        interpreter.resize_tensor_input(detail["index"], array.shape)
        feeds.append((detail["index"], array))
    interpreter.allocate_tensors()
    for index, array in feeds:
        interpreter.set_tensor(index, array)
    interpreter.invoke()
    (output,) = interpreter.get_output_details()
    np.testing.assert_allclose(interpreter.get_tensor(output["index"]), to_numpy(model(data)), atol=1e-5)
