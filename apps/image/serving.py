"""``seqgraph image export``: the serving signatures of an image classifier, and its export plan."""

from pathlib import Path

import numpy as np
import tensorflow as tf

from seqgraph.apps import export as ex
from seqgraph.apps.client import Server, text
from seqgraph.apps.image.evaluate import image_line, load_run, read_inputs, run_data
from seqgraph.apps.image.model import class_probabilities


def serving_functions(model, class_names, shape):
    """``(input_signature, serving_default, tflite)`` on uint8 images ``[batch, H, W, C]``:
    ``probabilities``, ``label`` and (TF Serving only: TFLite has no string builtins)
    ``label_name``."""
    names = tf.constant(class_names)
    signature = [tf.TensorSpec((None, *shape), tf.uint8, "images")]

    def lite(images):
        p = tf.nn.softmax(model(tf.cast(images, tf.float32), training=False))
        return {"probabilities": p, "label": tf.argmax(p, axis=-1, output_type=tf.int32)}

    def serve(images):
        outputs = lite(images)
        return {**outputs, "label_name": tf.gather(names, outputs["label"])}

    return signature, serve, lite


def export(
    run,
    out="saved_models/image",
    data_dir=None,
    int8="static",
    calibration_images=500,
    label="stable",
    serving_base=None,
):
    """Export ``run``'s model: a SavedModel for TF Serving and TFLite float and int8 models, each
    checked on the run's test images (accuracy, largest probability difference from Keras)
    before it is published.

    Args:
        run: a run folder written by ``train``.
        out: the export base, ``<out>/<version>/``.
        label: the version label the new version gets in models.config (``stable``, ``canary``).
        serving_base: the folder holding the apps inside TF Serving (default ``/models``).
        data_dir: where the image folder is now, if it has moved since training.
        int8: ``static`` (int8 weights and activations, calibrated on ``calibration_images``
            training images) or ``dynamic`` (int8 weights, activations quantised per call).
        calibration_images: training images for static calibration.

    Returns:
        The report written to ``<out>/<version>/export.json``.
    """
    config, facts, model = load_run(run)
    dataset, train_idx, test_idx = run_data(config, facts, data_dir)
    test, truth = dataset.images[test_idx], dataset.labels[test_idx]
    signature, serve, lite = serving_functions(model, facts["class_names"], dataset.shape)

    def representative():  # training images, one per call, in a fixed shuffled order
        for i in np.random.default_rng(0).permutation(train_idx)[:calibration_images]:
            yield {"images": dataset.images[i : i + 1]}

    def accuracy(outputs):
        predicted = np.concatenate([o["probabilities"] for o in outputs]).argmax(1)
        return {"accuracy": float(np.mean(predicted == truth))}

    plan = ex.ExportPlan(
        app="image",
        model=model,
        signatures={"serving_default": (serve, signature)},
        lite=(lite, signature),
        examples=[{"images": test[i : i + 64]} for i in range(0, len(test), 64)],
        reference=lambda feed: {"probabilities": class_probabilities(model, feed["images"])},
        score=accuracy,
        compare="probabilities",
        described=f"{len(test)} test images of {dataset.name}",
        int8=int8,
        representative=representative,
        lite_files={"labels.txt": "".join(f"{name}\n" for name in facts["class_names"])},
        lite_metadata={"labels": list(facts["class_names"])},
        batching=True,
    )
    return ex.export(plan, Path(out), label, serving_base)


def query(inputs, server="localhost:8501", grpc=False, model="image", label=None, timeout=30.0):
    """``seqgraph image query``: classify the image files ``inputs`` (PNG, JPEG; converted to the
    served model's size and channels, as ``predict`` does) on a TF Serving server, in one request,
    and print the lines ``predict`` prints. Returns the lines."""
    remote = Server(server, model, label, grpc, timeout)
    shape = remote.signatures()["serving_default"]["inputs"]["images"][1][1:]
    out = remote.predict({"images": read_inputs(inputs, shape)})
    lines = [
        image_line(path, name, float(np.max(p)))
        for path, name, p in zip(inputs, text(out["label_name"]), out["probabilities"])
    ]
    print("\n".join(lines))
    return lines
