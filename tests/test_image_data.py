"""datasets.images: the embedded digits, folders of class subfolders, the split, the pipeline."""

import numpy as np
import pytest

from seqgraph.datasets import images
from seqgraph.datasets.images import ImageDataError
from tests.helpers import tf_only

pytestmark = tf_only  # the pipeline and the image decoders are TensorFlow's


def test_digits_are_uint8_images_with_ten_classes():
    d = images.digits()
    assert d.images.shape == (1797, 8, 8, 1) and d.images.dtype == np.uint8
    assert d.images.max() == 255 and d.images.min() == 0
    assert d.num_classes == 10 and np.bincount(d.labels).min() >= 170


def test_split_is_stratified_disjoint_and_repeatable():
    labels = images.digits().labels
    train, test = images.split(labels, 0.2, seed=0)
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(labels)
    assert abs(len(test) - 0.2 * len(labels)) <= 1
    np.testing.assert_allclose(np.bincount(labels[test]) / len(test), np.bincount(labels) / len(labels), atol=0.01)
    again, _ = images.split(labels, 0.2, seed=0)
    np.testing.assert_array_equal(train, again)
    assert not np.array_equal(train, images.split(labels, 0.2, seed=1)[0])


def _shifts(image, pad):
    """Every translation of ``image`` by up to ``pad`` pixels, with zeros filling in."""
    h, w, _ = image.shape
    padded = np.pad(image, [(pad, pad), (pad, pad), (0, 0)])
    return [padded[dy : dy + h, dx : dx + w] for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)]


def test_pipeline_batches_shuffles_and_shifts():
    d = images.digits()
    indices = np.arange(100)
    plain = [(x.numpy(), y.numpy()) for x, y in images.tf_dataset(d, indices, 32)]
    np.testing.assert_array_equal(np.concatenate([x for x, _ in plain]), d.images[:100])
    np.testing.assert_array_equal(np.concatenate([y for _, y in plain]), d.labels[:100])

    ds = images.tf_dataset(d, indices, 100, shuffle=True, augment=True, seed=3)
    first, second = [(x.numpy(), y.numpy()) for x, y in ds], [(x.numpy(), y.numpy()) for x, y in ds]
    same_seed = [(x.numpy(), y.numpy()) for x, y in images.tf_dataset(d, indices, 100, True, True, seed=3)]
    np.testing.assert_array_equal(first[0][0], same_seed[0][0])
    assert not np.array_equal(first[0][0], second[0][0])  # each pass: new order and shifts
    shifted = 0
    for image, label in zip(*first[0]):
        # find the source image: the only one of that label whose shifts include this image
        matches = [
            i
            for i in np.flatnonzero(d.labels[:100] == label)
            if any(np.array_equal(image, s) for s in _shifts(d.images[i], 1))
        ]
        assert matches, "an augmented image is not a shift of a source image"
        shifted += not any(np.array_equal(image, d.images[i]) for i in matches)
    assert shifted > 50  # 8 of the 9 shifts move the image


def _write_png(path, array):
    import tensorflow as tf

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(array).numpy())


def test_folder_of_class_subfolders(tmp_path):
    rng = np.random.default_rng(0)
    pictures = rng.integers(0, 256, (5, 6, 7, 3), dtype=np.uint8)
    for i, picture in enumerate(pictures):
        _write_png(tmp_path / ("cat" if i < 2 else "dog") / f"{i}.png", picture)
    (tmp_path / "dog" / "notes.txt").write_text("not an image, not read")
    d = images.read_folder(tmp_path)
    assert d.class_names == ["cat", "dog"] and d.labels.tolist() == [0, 0, 1, 1, 1]
    np.testing.assert_array_equal(d.images, pictures)
    small = images.read_folder(tmp_path, size=(3, 4))
    assert small.images.shape == (5, 3, 4, 3) and small.images.dtype == np.uint8


def test_bad_folders_and_files_are_named(tmp_path):
    with pytest.raises(ImageDataError, match="no such folder"):
        images.read_folder(tmp_path / "missing")
    with pytest.raises(ImageDataError, match="a subfolder per class, two classes or more; found none"):
        images.read_folder(tmp_path)
    _write_png(tmp_path / "a" / "ok.png", np.zeros((4, 4, 1), np.uint8))
    (tmp_path / "b").mkdir()
    with pytest.raises(ImageDataError, match="b: no .png or .jpg images"):
        images.read_folder(tmp_path)
    (tmp_path / "b" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(ImageDataError, match="broken.png: not a readable PNG or JPEG"):
        images.read_folder(tmp_path)
    (tmp_path / "b" / "broken.png").unlink()
    _write_png(tmp_path / "b" / "big.png", np.zeros((5, 4, 1), np.uint8))
    with pytest.raises(ImageDataError, match=r"big.png: shape \[5, 4, 1\], the first image is \[4, 4, 1\]"):
        images.read_folder(tmp_path)
    with pytest.raises(ImageDataError, match="unknown dataset 'svhn'"):
        images.load("svhn")
