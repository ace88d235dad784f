"""Image classification with self-attention: each image is a set of patch (or pixel) vectors with a
2-D positional encoding; a CNN of similar size beside it, attention rollout maps, and the data
scaling experiment (CNN vs self-attention as the training set grows).

    python -m apps.image train --model vit|hybrid|cnn [--dataset digits|mnist|...|--data-dir DIR] --out RUN_DIR
    python -m apps.image evaluate --run RUN_DIR
    python -m apps.image predict --run RUN_DIR IMAGE...
    python -m apps.image export --run RUN_DIR [--out saved_models/image]
    python -m apps.image attention-maps --run RUN_DIR
    python -m apps.image data-scaling --out DIR [--fractions 0.1 0.25 0.5 1] [--seeds 0 1 2]
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from apps.common import atomic_path, load_run, read_json, run_dir, save_keras, strategy, write_json  # noqa: E402
from datasets import images  # noqa: E402

MODELS = ("vit", "hybrid", "cnn")
# The settings `train` stores in config.json and `build_model` takes.
MODEL_OPTIONS = ("patch_size", "dim", "depth", "heads", "mlp_dim", "dropout", "positional", "pooling")


# ----------------------------------------------------------------------------- models
def build_model(kind, shape, num_classes, patch_size=1, dim=64, depth=4, heads=4, mlp_dim=128, dropout=0.1,
                positional="sinusoidal", pooling="mean", attention_outputs=False, attention=None):
    """A classifier of float pixels 0..255 ``[batch, H, W, C]`` -> logits.

    vit: patches of ``patch_size`` (1 = pixels) embedded by one strided convolution, 2-D
    sinusoidal or learned positional encoding, ``depth`` pre-norm blocks of multi-head
    self-attention and a GELU MLP, mean pooling or a class token.
    hybrid: the same blocks over the feature-map positions of a two-convolution stem (the second
    strided by ``patch_size``).
    cnn: three 3x3 convolutions (32, 64, 128; batch norm, ReLU; a 2x2 max pool after the second),
    global average pooling and dropout 0.3; 95k weights on 8x8 digits against the vit's 135k.

    ``attention_outputs`` adds each block's attention weights ``[batch, heads, T, T]`` as outputs
    ``attention_<i>`` (for the rollout maps; same weights as the plain model). ``attention``
    replaces the self-attention layer class (the benchmark's peer: Keras' own layer).
    """
    import keras

    import layers

    inputs = keras.Input(shape, name="images")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)

    def conv_bn_relu(filters, strides=1, name=None):
        return [keras.layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=name),
                keras.layers.BatchNormalization(), keras.layers.ReLU()]

    if kind == "cnn":
        for layer in [*conv_bn_relu(32), *conv_bn_relu(64), keras.layers.MaxPooling2D(2, padding="same"),
                      *conv_bn_relu(128), keras.layers.GlobalAveragePooling2D(), keras.layers.Dropout(0.3)]:
            x = layer(x)
        return keras.Model(inputs, keras.layers.Dense(num_classes, name="logits")(x), name="cnn")
    if kind == "vit":
        x = keras.layers.Conv2D(dim, patch_size, strides=patch_size, name="patch_embedding")(x)
    elif kind == "hybrid":
        for layer in [*conv_bn_relu(32), *conv_bn_relu(dim, strides=patch_size)]:
            x = layer(x)
    else:
        raise ValueError(f"unknown model {kind!r}: expected one of {MODELS}")
    rows, cols = x.shape[1], x.shape[2]
    if positional == "sinusoidal":
        x = layers.SinusoidalPositionalEncoding2D(name="positional_encoding")(x)
    x = keras.layers.Reshape((rows * cols, dim), name="to_sequence")(x)
    if positional == "learned":
        x = layers.LearnedPositionalEmbedding(rows * cols, name="positional_encoding")(x)
    if pooling == "class":
        x = layers.ClassToken(name="class_token")(x)
    weights = {}
    for i in range(depth):
        h = keras.layers.LayerNormalization(epsilon=1e-6)(x)
        h = (attention or layers.MultiHeadSelfAttention)(heads, dim // heads, dropout=dropout, name=f"attention_{i}")(
            h, return_attention_scores=attention_outputs)
        if attention_outputs:
            h, weights[f"attention_{i}"] = h
        x = keras.layers.Add()([x, h])
        h = keras.layers.LayerNormalization(epsilon=1e-6)(x)
        h = keras.layers.Dense(mlp_dim, activation="gelu")(h)
        x = keras.layers.Add()([x, keras.layers.Dense(dim)(h)])
    x = keras.layers.LayerNormalization(epsilon=1e-6)(x)
    if pooling == "class":  # the class token's output: the first position
        x = keras.layers.Flatten()(keras.layers.Cropping1D((0, rows * cols), name="class_output")(x))
    else:
        x = keras.layers.GlobalAveragePooling1D()(x)
    logits = keras.layers.Dense(num_classes, name="logits")(x)
    outputs = {"logits": logits, **weights} if attention_outputs else logits
    return keras.Model(inputs, outputs, name=kind)


def model_options(config):
    return {k: config[k] for k in MODEL_OPTIONS}


def compile_model(model, steps, lr=2e-3, weight_decay=0.05):
    """AdamW, learning rate warmed up linearly over the first 5% of ``steps``, then cosine to 0."""
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(0.0, steps, warmup_target=lr,
                                                      warmup_steps=max(1, steps // 20))
    model.compile(keras.optimizers.AdamW(schedule, weight_decay=weight_decay),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])


# ----------------------------------------------------------------------------- train
def _fit(args, dataset, train_idx, test_idx, steps_per_epoch=None, verbose=None):
    """Trains a fresh model; returns (model, history, seconds). ``steps_per_epoch`` defaults to one
    pass over ``train_idx`` (data-scaling keeps the full set's count so every size gets as many
    updates)."""
    import keras

    keras.utils.set_random_seed(args.seed)
    steps_per_epoch = steps_per_epoch or int(np.ceil(len(train_idx) / args.batch_size))
    with strategy(args.distribute).scope():
        model = build_model(args.model, dataset.shape, dataset.num_classes,
                            **{k: getattr(args, k) for k in MODEL_OPTIONS})
        compile_model(model, steps_per_epoch * args.epochs, args.lr, args.weight_decay)
    train = images.tf_dataset(dataset, train_idx, args.batch_size, shuffle=True, augment=args.augment,
                              seed=args.seed)
    test = images.tf_dataset(dataset, test_idx, 256)
    start = time.time()
    history = model.fit(train.repeat(), steps_per_epoch=steps_per_epoch, epochs=args.epochs,
                        validation_data=test.repeat(), validation_steps=len(test),
                        verbose=args.verbose if verbose is None else verbose,
                        shuffle=False)  # the pipeline reshuffles each pass
    return model, history.history, time.time() - start


def _plot_curves(history, path):
    plt = _pyplot()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for key, ax, label in (("loss", ax_loss, "train loss"), ("val_loss", ax_loss, "test loss"),
                           ("accuracy", ax_acc, "train accuracy"), ("val_accuracy", ax_acc, "test accuracy")):
        ax.plot(epochs, history[key], label=label)
    ax_loss.set_yscale("log")
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    _save(fig, path)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    with atomic_path(path) as tmp:
        fig.tight_layout()
        fig.savefig(tmp, dpi=100)
    _pyplot().close(fig)


def _load_data(args):
    size = tuple(args.size) if getattr(args, "size", None) else None
    return images.load(args.dataset, args.data_dir, size)


def train(args):
    dataset = _load_data(args)
    train_idx, test_idx = images.split(dataset.labels, args.test_fraction, seed=args.split_seed)
    out = run_dir("image", args.out)
    print(f"{dataset.name}: {len(dataset.labels)} images {list(dataset.shape)}, {dataset.num_classes} classes; "
          f"{len(train_idx)} training, {len(test_idx)} test; model {args.model}, {args.epochs} epochs")
    config = {**{k: v for k, v in vars(args).items() if k != "func"}, "class_names": dataset.class_names,
              "shape": list(dataset.shape), "dataset": dataset.name}
    write_json(out / "config.json", config)
    model, history, seconds = _fit(args, dataset, train_idx, test_idx)
    save_keras(model, out / "model.keras")
    metrics = {"dataset": dataset.name, "model": args.model, "epochs": args.epochs, "seed": args.seed,
               "accuracy": float(history["val_accuracy"][-1]), "train_accuracy": float(history["accuracy"][-1]),
               "parameters": int(model.count_params()), "wall_time_s": seconds,
               "training_images_per_second": len(train_idx) * args.epochs / seconds,
               "test_images": int(len(test_idx))}
    write_json(out / "metrics.json", metrics)
    _plot_curves(history, out / "learning_curves.png")
    print(f"test accuracy {metrics['accuracy']:.4f} ({args.model}, {metrics['parameters']:,} weights, "
          f"{seconds:.0f} s)\nwrote {out}/metrics.json, learning_curves.png, model.keras")
    return metrics


# ----------------------------------------------------------------------------- evaluate / predict
def _run_data(config, data_dir=None):
    """The run's dataset and test indices, read and split as in training."""
    size = tuple(config["size"]) if config.get("size") else None
    dataset = images.load(config["dataset"], data_dir or config.get("data_dir"), size)
    if list(dataset.shape) != config["shape"]:
        raise images.ImageDataError(f"images are {list(dataset.shape)}, the model was trained on {config['shape']}")
    train_idx, test_idx = images.split(dataset.labels, config["test_fraction"], seed=config["split_seed"])
    return dataset, train_idx, test_idx


def _probabilities(predict, pixels, batch_size=256):
    """``predict(float pixels) -> probabilities`` over ``pixels`` in batches, concatenated."""
    return np.concatenate([np.asarray(predict(pixels[i:i + batch_size].astype(np.float32)))
                           for i in range(0, len(pixels), batch_size)])


def _keras_probabilities(model):
    import keras

    return lambda x: keras.ops.convert_to_numpy(keras.ops.softmax(model(x, training=False)))


def _plot_confusion(matrix, names, path):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(1 + 0.5 * len(names), 1 + 0.45 * len(names)))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), n in np.ndenumerate(matrix):
        if n:
            ax.text(j, i, str(n), ha="center", va="center", color="white" if n > matrix.max() / 2 else "black")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    _save(fig, path)


def evaluate(args):
    from sklearn.metrics import accuracy_score, classification_report, confusion_matrix

    config, model = load_run(args.run)
    dataset, _, test_idx = _run_data(config, args.data_dir)
    truth = dataset.labels[test_idx]
    predicted = _probabilities(_keras_probabilities(model), dataset.images[test_idx]).argmax(1)
    names = config["class_names"]
    report = classification_report(truth, predicted, labels=range(len(names)), target_names=names,
                                   zero_division=0, output_dict=True)
    result = {"accuracy": float(accuracy_score(truth, predicted)), "test_images": int(len(test_idx)),
              "per_class": {n: {k: float(v) for k, v in report[n].items()} for n in names}}
    print(classification_report(truth, predicted, labels=range(len(names)), target_names=names, zero_division=0))
    print(f"accuracy {result['accuracy']:.4f} on {len(test_idx)} test images of {dataset.name}")
    _plot_confusion(confusion_matrix(truth, predicted, labels=range(len(names))), names,
                    Path(args.run) / "confusion_matrix.png")
    write_json(Path(args.run) / "eval.json", result)
    print(f"wrote {args.run}/eval.json, confusion_matrix.png")
    return result


def read_for_model(path, shape):
    """An image file as the model's input: converted to its channels, resized to its size."""
    import tensorflow as tf

    image = images.read_image(path, channels=shape[-1])
    if list(image.shape[:2]) != list(shape[:2]):
        image = tf.cast(tf.round(tf.image.resize(image, shape[:2])), tf.uint8).numpy()
    return image


def predict(args):
    config, model = load_run(args.run)
    pixels = np.stack([read_for_model(path, config["shape"]) for path in args.inputs])
    for path, p in zip(args.inputs, _probabilities(_keras_probabilities(model), pixels)):
        print(f"{path}: {config['class_names'][p.argmax()]} (p={p.max():.3f})")


# ----------------------------------------------------------------------------- attention maps
def rollout(weights):
    """Attention rollout (Abnar & Zuidema 2020) from per-block weights ``[B, heads, T, T]``: heads
    averaged, the residual added as 0.5 I, rows renormalised, blocks multiplied -> ``[B, T, T]``,
    how much each output position draws on each input position."""
    result = None
    for w in weights:
        a = w.mean(1)
        a = 0.5 * a + 0.5 * np.eye(a.shape[-1])
        a = a / a.sum(-1, keepdims=True)
        result = a if result is None else a @ result
    return result


def attention_maps(args):
    import keras

    if read_json(Path(args.run) / "config.json")["model"] == "cnn":
        raise SystemExit("error: attention-maps needs a vit or hybrid run (a cnn has no attention)")
    config, model = load_run(args.run)
    dataset, _, test_idx = _run_data(config, args.data_dir)
    with_attention = build_model(config["model"], dataset.shape, dataset.num_classes, attention_outputs=True,
                                 **model_options(config))
    with_attention.set_weights(model.get_weights())
    chosen = test_idx[:: max(1, len(test_idx) // args.count)][: args.count]
    outputs = with_attention(dataset.images[chosen].astype(np.float32), training=False)
    probabilities = keras.ops.convert_to_numpy(keras.ops.softmax(outputs["logits"]))
    flow = rollout([keras.ops.convert_to_numpy(outputs[f"attention_{i}"]) for i in range(config["depth"])])
    if config["pooling"] == "class":  # the class token's row, over the patches
        relevance = flow[:, 0, 1:]
    else:  # mean pooling reads every position equally
        relevance = flow.mean(1)
    h, w = dataset.shape[:2]
    side = int(round(np.sqrt(relevance.shape[-1] * w / h)))  # grid columns
    grid = relevance.reshape(len(chosen), -1, side)

    plt = _pyplot()
    fig, axes = plt.subplots(2, len(chosen), figsize=(1.6 * len(chosen), 3.4), squeeze=False)
    for k, index in enumerate(chosen):
        image = dataset.images[index]
        cmap = "gray" if image.shape[-1] == 1 else None
        axes[0, k].imshow(image.squeeze(-1) if cmap else image, cmap=cmap)
        name = config["class_names"]
        axes[0, k].set_title(f"{name[dataset.labels[index]]} -> {name[probabilities[k].argmax()]}", fontsize=9)
        axes[1, k].imshow(image.squeeze(-1) if cmap else image, cmap=cmap)
        axes[1, k].imshow(grid[k], cmap="inferno", alpha=0.6, extent=(-0.5, w - 0.5, h - 0.5, -0.5))
        for ax in axes[:, k]:
            ax.axis("off")
    fig.suptitle(f"attention rollout ({config['model']}, {config['depth']} blocks): true -> predicted", fontsize=10)
    path = Path(args.run) / "attention_maps.png"
    _save(fig, path)
    print(f"wrote {path} ({len(chosen)} test images)")
    return path


# ----------------------------------------------------------------------------- export
def serving_functions(model, class_names, shape):
    """(signature, serving_default, tflite) on uint8 images ``[batch, H, W, C]``."""
    import tensorflow as tf

    names = tf.constant(class_names)
    signature = [tf.TensorSpec((None, *shape), tf.uint8, "images")]

    def lite(images):
        p = tf.nn.softmax(model(tf.cast(images, tf.float32), training=False))
        return {"probabilities": p, "label": tf.argmax(p, axis=-1, output_type=tf.int32)}

    def serve(images):
        outputs = lite(images)
        return {**outputs, "label_name": tf.gather(names, outputs["label"])}

    return signature, serve, lite


def export(args):
    """SavedModel (checked through the loader TF Serving uses) + TFLite float and int8 (checked in
    LiteRT on the run's test images), each moved into place only after its check."""
    import tensorflow as tf

    from apps import export as ex

    config, model = load_run(args.run)
    dataset, train_idx, test_idx = _run_data(config, args.data_dir)
    test, truth = dataset.images[test_idx], dataset.labels[test_idx]
    keras_probs = _probabilities(_keras_probabilities(model), test)
    report = {"test_images": int(len(test_idx)), "keras_accuracy": float(np.mean(keras_probs.argmax(1) == truth))}

    base = Path(args.out)
    version = ex.next_version(base)
    tmp = ex.staging(version)
    signature, serve, lite = serving_functions(model, config["class_names"], dataset.shape)
    ex.write_saved_model(model, tmp, {"serving_default": (serve, signature), "tflite": (lite, signature)})

    loaded = tf.saved_model.load(str(tmp)).signatures["serving_default"]
    served = np.concatenate([loaded(images=tf.constant(test[i:i + 256]))["probabilities"].numpy()
                             for i in range(0, len(test), 256)])
    report["saved_model_max_abs_error"] = float(np.abs(served - keras_probs).max())
    if report["saved_model_max_abs_error"] > 1e-4:
        raise SystemExit(f"error: the SavedModel differs from Keras by {report['saved_model_max_abs_error']}")

    def representative():  # training images, one per call, in a fixed shuffled order
        order = np.random.default_rng(0).permutation(train_idx)[: args.calibration_images]
        for i in order:
            yield {"images": dataset.images[i:i + 1]}

    lite_files = {}
    for kind, content, lite_model in ex.lite_models(tmp, args.int8, representative):
        probs = np.concatenate([lite_model({"images": test[i:i + 64]})["probabilities"]
                                for i in range(0, len(test), 64)])
        report[f"tflite_{kind}_accuracy"] = float(np.mean(probs.argmax(1) == truth))
        report[f"tflite_{kind}_max_abs_error"] = float(np.abs(probs - keras_probs).max())
        report[f"tflite_{kind}_bytes"] = len(content)
        lite_files[kind] = content

    report["int8"] = args.int8
    ex.finish_export(tmp, version, "image", lite_files, report)
    print(f"SavedModel {version} (serving_default: uint8 images {[None, *dataset.shape]} -> probabilities, "
          f"label, label_name), {base}/image.tflite, {base}/image_int8.tflite")
    print(f"test accuracy on {len(test_idx)} images: Keras {report['keras_accuracy']:.4f}, "
          f"TFLite float {report['tflite_float_accuracy']:.4f}, int8 {report['tflite_int8_accuracy']:.4f} "
          f"(max |p - p_keras|: SavedModel {report['saved_model_max_abs_error']:.1e}, "
          f"float {report['tflite_float_max_abs_error']:.1e}, int8 {report['tflite_int8_max_abs_error']:.1e})")
    return report


# ----------------------------------------------------------------------------- data scaling
def data_scaling(args):
    """Trains each model on growing stratified subsets of the training split (same test split,
    same number of updates for every size), several seeds; writes data_scaling.json, .png, .md."""
    from sklearn.model_selection import train_test_split

    dataset = _load_data(args)
    train_idx, test_idx = images.split(dataset.labels, args.test_fraction, seed=args.split_seed)
    out = run_dir("image-scaling", args.out)
    steps = int(np.ceil(len(train_idx) / args.batch_size))
    rows = []
    for fraction in args.fractions:
        for seed in args.seeds:
            subset = train_idx
            if fraction < 1:
                subset, _ = train_test_split(train_idx, train_size=fraction, stratify=dataset.labels[train_idx],
                                             random_state=seed)
            for kind in args.models:
                run_args = argparse.Namespace(**{**vars(args), "model": kind, "seed": seed})
                _, history, seconds = _fit(run_args, dataset, np.sort(subset), test_idx, steps, verbose=0)
                rows.append({"model": kind, "fraction": fraction, "training_images": int(len(subset)),
                             "seed": seed, "accuracy": float(history["val_accuracy"][-1]), "seconds": seconds})
                print(f"{kind:>6} {len(subset):>6} training images, seed {seed}: "
                      f"test accuracy {rows[-1]['accuracy']:.4f} ({seconds:.0f} s)", flush=True)
    summary = _scaling_summary(rows, args.models, args.fractions)
    result = {"dataset": dataset.name, "epochs": args.epochs, "updates": steps * args.epochs,
              "test_images": int(len(test_idx)), "runs": rows, "summary": summary,
              "crossing": _crossing(summary, args.models)}
    write_json(out / "data_scaling.json", result)
    table = _scaling_table(summary, args.models, result["crossing"])
    with atomic_path(out / "data_scaling.md") as tmp:
        tmp.write_text(table)
    _plot_scaling(summary, args.models, dataset.name, out / "data_scaling.png")
    print("\n" + table + f"\nwrote {out}/data_scaling.json, data_scaling.md, data_scaling.png")
    return result


def _scaling_summary(rows, models, fractions):
    summary = []
    for fraction in fractions:
        entry = {"fraction": fraction}
        for kind in models:
            acc = [r["accuracy"] for r in rows if r["model"] == kind and r["fraction"] == fraction]
            entry["training_images"] = next(r["training_images"] for r in rows if r["fraction"] == fraction)
            entry[kind] = {"mean": float(np.mean(acc)), "std": float(np.std(acc)), "seeds": len(acc)}
        summary.append(entry)
    return summary


def _crossing(summary, models):
    """The first training-set size at which the second model's mean accuracy reaches the first's
    after being below it, or None (stated as such: no crossing in the sizes tried)."""
    if len(models) != 2:
        return None
    first, second = models
    below = False
    for entry in summary:
        if entry[second]["mean"] < entry[first]["mean"]:
            below = True
        elif below:
            return entry["training_images"]
    return None


def _scaling_table(summary, models, crossing):
    header = "| training images | " + " | ".join(f"{m} accuracy (mean ± std)" for m in models) + " |\n"
    lines = [header, "|---:|" + "---:|" * len(models) + "\n"]
    for entry in summary:
        cells = " | ".join(f"{100 * entry[m]['mean']:.2f}% ± {100 * entry[m]['std']:.2f}" for m in models)
        lines.append(f"| {entry['training_images']} ({entry['fraction']:.0%}) | {cells} |\n")
    if len(models) == 2:
        lines.append(f"\n{models[1]} overtakes {models[0]} at {crossing} training images.\n" if crossing else
                     f"\nNo crossing in the sizes tried: {models[1]} does not overtake {models[0]} "
                     "after trailing it.\n")
    return "".join(lines)


def _plot_scaling(summary, models, name, path):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    sizes = [e["training_images"] for e in summary]
    for kind in models:
        mean = np.array([e[kind]["mean"] for e in summary])
        std = np.array([e[kind]["std"] for e in summary])
        ax.errorbar(sizes, 100 * mean, yerr=100 * std, marker="o", capsize=3, label=kind)
    ax.set_xscale("log")
    ax.set_xlabel("training images")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{name}: accuracy vs training-set size (mean ± std over seeds)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, path)


# ----------------------------------------------------------------------------- CLI
def _add_data_arguments(p):
    p.add_argument("--dataset", default="digits", help="digits (embedded), mnist, fashion_mnist or cifar10")
    p.add_argument("--data-dir", help="a folder of class subfolders of PNG/JPEG images (instead of --dataset)")
    p.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="resize folder images to H x W")
    p.add_argument("--test-fraction", type=float, default=0.2)
    p.add_argument("--split-seed", type=int, default=0, help="the stratified train/test split")


def _add_training_arguments(p, epochs):
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3, help="AdamW peak, after a 5%% warmup, cosine to 0")
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--no-augment", dest="augment", action="store_false", help="no random shifts")
    p.add_argument("--patch-size", type=int, default=1, help="vit patch side (1 = pixels); hybrid stem stride")
    p.add_argument("--dim", type=int, default=64)
    p.add_argument("--depth", type=int, default=4, help="self-attention blocks")
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--mlp-dim", type=int, default=128)
    p.add_argument("--dropout", type=float, default=0.1, help="on the attention weights")
    p.add_argument("--positional", choices=["sinusoidal", "learned"], default="sinusoidal")
    p.add_argument("--pooling", choices=["mean", "class"], default="mean")
    p.add_argument("--distribute", choices=["default", "mirrored", "multiworker"], default="default")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m apps.image", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train on the training split, score the test split")
    _add_data_arguments(p)
    p.add_argument("--model", choices=MODELS, default="vit")
    _add_training_arguments(p, epochs=150)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="run folder (default runs/image/<timestamp>)")
    p.add_argument("--verbose", type=int, default=1, help="Keras fit verbosity (2 = a line per epoch)")
    p.set_defaults(func=train)

    p = sub.add_parser("evaluate", help="accuracy, per-class report and confusion matrix on the test split")
    p.add_argument("--run", required=True)
    p.add_argument("--data-dir")
    p.set_defaults(func=evaluate)

    p = sub.add_parser("predict", help="classify image files")
    p.add_argument("--run", required=True)
    p.add_argument("inputs", nargs="+")
    p.set_defaults(func=predict)

    p = sub.add_parser("export", help="SavedModel for TF Serving + TFLite float and int8")
    p.add_argument("--run", required=True)
    p.add_argument("--out", default="saved_models/image")
    p.add_argument("--data-dir")
    p.add_argument("--int8", choices=["static", "dynamic"], default="static",
                   help="static: int8 weights and activations, calibrated on training images; "
                        "dynamic: int8 weights, activations quantised per call")
    p.add_argument("--calibration-images", type=int, default=500)
    p.set_defaults(func=export)

    p = sub.add_parser("attention-maps", help="attention rollout PNG over a few test images")
    p.add_argument("--run", required=True)
    p.add_argument("--data-dir")
    p.add_argument("--count", type=int, default=8)
    p.set_defaults(func=attention_maps)

    p = sub.add_parser("data-scaling", help="cnn vs vit accuracy as the training set grows")
    _add_data_arguments(p)
    _add_training_arguments(p, epochs=60)
    p.add_argument("--models", nargs="+", choices=MODELS, default=["cnn", "vit"])
    p.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.25, 0.5, 1.0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", help="folder (default runs/image-scaling/<timestamp>)")
    p.set_defaults(func=data_scaling, verbose=0)

    args = parser.parse_args(argv)
    if getattr(args, "epochs", 1) < 1:
        parser.error("--epochs must be at least 1")
    if any(not 0 < f <= 1 for f in getattr(args, "fractions", [])):
        parser.error("--fractions must lie in (0, 1]")
    try:
        return args.func(args)
    except images.ImageDataError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
