"""``seqgraph image evaluate`` and ``predict``: a trained run on its test split, or on image files."""

from pathlib import Path

import numpy as np

from seqgraph.apps.common import load_model, pyplot, run_config, save_figure, write_json
from seqgraph.apps.image.config import ImageConfig
from seqgraph.apps.image.model import class_probabilities
from seqgraph.apps.image.train import load_images
from seqgraph.datasets import images


def load_run(run):
    """``(config, facts, model)`` of a run folder: its ImageConfig, the facts config.json keeps
    (class_names, shape) and the model."""
    config, facts = run_config(ImageConfig, run, "image")
    return config, facts, load_model(run)


def run_data(config, facts, data_dir=None):
    """The run's dataset and (train, test) indices, read and split as in training (``data_dir``
    if the image folder has moved)."""
    if data_dir:
        config = ImageConfig(**{**vars(config), "data_dir": data_dir})
    dataset, train_idx, test_idx = load_images(config)
    if list(dataset.shape) != facts["shape"]:
        raise images.ImageDataError(f"images are {list(dataset.shape)}, the model was trained on {facts['shape']}")
    return dataset, train_idx, test_idx


def evaluate(run, data_dir=None):
    """Accuracy, a per-class report and a confusion matrix of ``run``'s model on its test split;
    writes ``run/eval.json`` and ``run/confusion_matrix.png``.

    Returns:
        ``{"accuracy", "test_images", "per_class"}``.
    """
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

    config, facts, model = load_run(run)
    dataset, _, test_idx = run_data(config, facts, data_dir)
    truth = dataset.labels[test_idx]
    predicted = class_probabilities(model, dataset.images[test_idx]).argmax(1)
    names = facts["class_names"]
    report = classification_report(
        truth, predicted, labels=range(len(names)), target_names=names, zero_division=0, output_dict=True
    )
    result = {
        "accuracy": float(accuracy_score(truth, predicted)),
        "test_images": int(len(test_idx)),
        "per_class": {n: {k: float(v) for k, v in report[n].items()} for n in names},
    }
    print(classification_report(truth, predicted, labels=range(len(names)), target_names=names, zero_division=0))
    print(f"accuracy {result['accuracy']:.4f} on {len(test_idx)} test images of {dataset.name}")
    plot_confusion(
        confusion_matrix(truth, predicted, labels=range(len(names))), names, Path(run) / "confusion_matrix.png"
    )
    write_json(Path(run) / "eval.json", result)
    print(f"wrote {run}/eval.json, confusion_matrix.png")
    return result


def plot_confusion(matrix, names, path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(1 + 0.5 * len(names), 1 + 0.45 * len(names)))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), n in np.ndenumerate(matrix):
        if n:
            ax.text(j, i, str(n), ha="center", va="center", color="white" if n > matrix.max() / 2 else "black")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    save_figure(fig, path)


def predict(run, inputs):
    """Print the class of every image file in ``inputs`` (converted to the model's channels and
    size), one line each: ``<file>: <class> (p=<probability>)``. Returns the lines."""
    _, facts, model = load_run(run)
    pixels = read_inputs(inputs, facts["shape"])
    lines = [
        image_line(path, facts["class_names"][p.argmax()], p.max())
        for path, p in zip(inputs, class_probabilities(model, pixels))
    ]
    print("\n".join(lines))
    return lines


def read_inputs(inputs, shape):
    """The image files ``inputs`` as one uint8 batch ``[n, H, W, C]`` of ``shape`` (H, W, C)."""
    return np.stack([images.read_image(path, channels=shape[-1], size=shape[:2]) for path in inputs])


def image_line(path, class_name, probability):
    """The line ``predict`` and ``query`` print for one image."""
    return f"{path}: {class_name} (p={probability:.3f})"
