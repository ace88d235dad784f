"""Image classification data: scikit-learn's digits (embedded), Keras' MNIST / Fashion-MNIST /
CIFAR-10 (downloaded when the network allows), any folder of class subfolders; a fixed
stratified split; a tf.data pipeline of uint8 batches with light augmentation.

Images stay uint8 ``[N, H, W, C]`` up to the model: it rescales them itself, so a served model
takes raw pixels (DESIGN.md's serving contract).
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqgraph.datasets import DataError

KERAS_DATASETS = ("mnist", "fashion_mnist", "cifar10")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


class ImageDataError(DataError):
    """An image or folder that cannot be used; the message names it."""


@dataclass
class ImageDataset:
    name: str
    images: np.ndarray  # [N, H, W, C] uint8
    labels: np.ndarray  # [N] int32 in 0..C-1
    class_names: list

    @property
    def shape(self):
        return self.images.shape[1:]

    @property
    def num_classes(self):
        return len(self.class_names)


def digits():
    """scikit-learn's 1,797 handwritten digits, 8x8, grey levels 0..16 scaled to 0..255."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.round(d.images * (255 / 16)).astype(np.uint8)[..., None]
    return ImageDataset("digits", images, d.target.astype(np.int32), [str(i) for i in range(10)])


def keras_dataset(name):
    """MNIST, Fashion-MNIST or CIFAR-10 through ``keras.datasets`` (train and test joined: the
    app makes its own split); needs the network the first time."""
    import keras

    if name not in KERAS_DATASETS:
        raise ImageDataError(f"unknown dataset {name!r}: expected digits, {', '.join(KERAS_DATASETS)} or a folder")
    try:
        (x_train, y_train), (x_test, y_test) = getattr(keras.datasets, name).load_data()
    except Exception as e:  # no network: urllib/HTTP errors, keras' own wrappers
        raise ImageDataError(f"{name}: could not download through keras.datasets ({e})") from None
    images = np.concatenate([x_train, x_test])
    images = images[..., None] if images.ndim == 3 else images
    labels = np.concatenate([y_train, y_test]).reshape(-1).astype(np.int32)
    names = {
        "fashion_mnist": [
            "t-shirt",
            "trouser",
            "pullover",
            "dress",
            "coat",
            "sandal",
            "shirt",
            "sneaker",
            "bag",
            "ankle boot",
        ],
        "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
    }.get(name, [str(i) for i in range(10)])
    return ImageDataset(name, images.astype(np.uint8), labels, names)


def read_image(path, channels=None, size=None):
    """One PNG/JPEG file as uint8 ``[H, W, C]``, converted to ``channels`` and resized to
    ``size`` (h, w) when given; an unreadable file raises ImageDataError naming it."""
    import tensorflow as tf

    try:
        image = tf.io.decode_image(Path(path).read_bytes(), channels=channels or 0, expand_animations=False)
    except (OSError, tf.errors.InvalidArgumentError) as e:
        message = getattr(e, "message", None) or str(e)
        raise ImageDataError(f"{path}: not a readable PNG or JPEG image ({message.splitlines()[0]})") from None
    if size is not None and list(image.shape[:2]) != list(size):
        image = tf.cast(tf.round(tf.image.resize(image, size)), tf.uint8)
    return image.numpy()


def read_folder(path, size=None):
    """Images in class subfolders (``path/<class>/*.png|jpg``), classes in alphabetical order.
    Every image must have the first one's shape unless ``size`` (h, w) resizes them all."""
    path = Path(path)
    if not path.is_dir():
        raise ImageDataError(f"{path}: no such folder")
    classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        found = f"only {classes[0]}/" if classes else "none"
        raise ImageDataError(f"{path}: expected a subfolder per class, two classes or more; found {found}")
    images, labels, shape = [], [], None
    for label, name in enumerate(classes):
        files = sorted(f for f in (path / name).iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ImageDataError(f"{path / name}: no .png or .jpg images")
        for file in files:
            image = read_image(file, channels=shape[-1] if shape else None, size=size)
            if shape is None:
                shape = image.shape
            elif image.shape != shape:
                raise ImageDataError(
                    f"{file}: shape {list(image.shape)}, the first image is {list(shape)} "
                    "(give a size to resize them all)"
                )
            images.append(image)
            labels.append(label)
    return ImageDataset(path.name, np.stack(images), np.array(labels, np.int32), classes)


def load(name="digits", data_dir=None, size=None):
    """``digits`` (embedded), a Keras dataset name, or ``data_dir`` holding class subfolders."""
    if data_dir is not None:
        return read_folder(data_dir, size)
    if name == "digits":
        return digits()
    return keras_dataset(name)


def split(labels, test_fraction=0.2, seed=0):
    """Stratified (train, test) index arrays; the same seed gives the same split."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(labels))
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise ImageDataError(f"all {len(labels)} images have one class: classification needs two classes or more")
    test = math.ceil(test_fraction * len(labels))  # as scikit-learn counts it
    if counts.min() < 2 or test < len(classes) or len(labels) - test < len(classes):
        raise ImageDataError(
            f"a stratified split of {len(labels)} images in {len(classes)} classes (the smallest has "
            f"{counts.min()}) with --test-fraction {test_fraction} leaves a class out of training or test: "
            "every class needs 2 images or more, and each side one per class"
        )
    train, test = train_test_split(indices, test_size=test_fraction, stratify=labels, random_state=seed)
    return np.sort(train), np.sort(test)


def tf_dataset(dataset, indices, batch_size, shuffle=False, augment=False, seed=0):
    """``(uint8 images, labels)`` batches of ``indices``, reshuffled every pass when ``shuffle``.
    ``augment`` shifts each image by up to an eighth of its size (zero padding), a translation
    that keeps digits and objects readable, drawn anew each pass; no flips (a mirrored digit is
    another symbol). The same seed gives the same passes."""
    import tensorflow as tf

    indices = np.asarray(indices)
    ds = tf.data.Dataset.from_tensor_slices((dataset.images[indices], dataset.labels[indices]))
    if shuffle:
        ds = ds.shuffle(len(indices), seed=seed, reshuffle_each_iteration=True)
    if augment:
        h, w, c = dataset.shape
        pad = [[max(1, h // 8)] * 2, [max(1, w // 8)] * 2, [0, 0]]

        def shift(image, label, draw):
            padded = tf.pad(image, pad)
            return tf.image.stateless_random_crop(padded, [h, w, c], tf.stack([draw, draw // 7])), label

        draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, draws)).map(lambda xy, draw: shift(*xy, draw))
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
