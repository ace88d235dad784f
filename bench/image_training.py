"""The image app's vit (pixels as tokens, its defaults) against the same model in PyTorch:
training and inference images/s on the digits, 2 threads both, timed in alternation in one
process. speedup = the peer's time / ours (above 1: we are faster).

    python -m bench.image_training [--rounds 7]

The PyTorch model has the same layers, widths and optimizer: 1x1 patch embedding (a
convolution), the same fixed 2-D sinusoidal encoding (our layer's values, added as a constant),
4 pre-norm blocks of ``nn.MultiheadAttention`` (4 heads x 16, dropout 0.1 on the attention
weights) and a GELU MLP (128), layer norms with epsilon 1e-6, mean pooling, AdamW (2e-3,
weight decay 0.05). Training: ``STEPS`` optimizer steps on batches of 64 (ours: one ``fit``
call, as the app trains, timed from its first to its last step); inference: batches of 256
(ours: the app's XLA-compiled ``inference_function``; PyTorch's: eval mode, ``inference_mode``).
"""

import argparse

import numpy as np

from bench.common import fit_clock, interleaved

TRAIN_BATCH, INFER_BATCH, STEPS, THREADS = 64, 256, 20, 2


def _data():
    from seqgraph.datasets import images

    data = images.digits()
    x = data.images.astype(np.float32)
    return data, x[:TRAIN_BATCH], data.labels[:TRAIN_BATCH], x[:INFER_BATCH]


def ours():
    """(train, infer, weights) for the app's vit."""
    import tensorflow as tf

    from seqgraph.apps.image import model as image

    data, x, y, infer_x = _data()
    model = image.build_model("vit", data.shape, data.num_classes)
    image.compile_model(model, 1000)
    batches = tf.data.Dataset.from_tensors((x, y)).repeat()

    def train():
        clock = fit_clock()
        model.fit(batches, steps_per_epoch=STEPS, epochs=1, verbose=0, shuffle=False, callbacks=[clock])
        return clock.seconds

    infer_x = tf.constant(infer_x)
    predict = image.inference_function(model)  # the app's inference (evaluate, predict)
    return train, lambda: predict(infer_x).numpy(), sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def torch_vit():
    """(train, infer, weights) for the same model in PyTorch."""
    import keras
    import torch
    from torch import nn

    from seqgraph import layers

    torch.manual_seed(0)
    torch.set_num_threads(THREADS)
    data, x, y, infer_x = _data()
    rows, cols, channels = data.shape
    dim, depth, heads, mlp_dim = 64, 4, 4, 128
    encoding = keras.ops.convert_to_numpy(
        layers.SinusoidalPositionalEncoding2D()(np.zeros((1, rows, cols, dim), "float32"))
    )

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
            self.attention = nn.MultiheadAttention(dim, heads, dropout=0.1, batch_first=True)
            self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

        def forward(self, x):
            h = self.norm1(x)
            x = x + self.attention(h, h, h, need_weights=False)[0]
            return x + self.mlp(self.norm2(x))

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Conv2d(channels, dim, 1)
            self.register_buffer("encoding", torch.from_numpy(encoding.reshape(1, rows * cols, dim)))
            self.blocks = nn.Sequential(*[Block() for _ in range(depth)])
            self.norm = nn.LayerNorm(dim, eps=1e-6)
            self.logits = nn.Linear(dim, data.num_classes)

        def forward(self, images):  # [batch, H, W, C] pixels 0..255, as ours takes them
            h = self.embed(images.permute(0, 3, 1, 2) / 255.0).flatten(2).transpose(1, 2) + self.encoding
            return self.logits(self.norm(self.blocks(h)).mean(1))

    model = ViT()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    x, y, infer_x = torch.from_numpy(x), torch.from_numpy(y.astype("int64")), torch.from_numpy(infer_x)

    def train():
        model.train()
        for _ in range(STEPS):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()

    def infer():
        model.eval()
        with torch.inference_mode():
            return model(infer_x).numpy()

    return train, infer, sum(p.numel() for p in model.parameters())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per library and task")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from bench.common import write_results

    tf.config.threading.set_intra_op_parallelism_threads(THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(THREADS)
    our_train, our_infer, our_weights = ours()
    peer_train, peer_infer, peer_weights = torch_vit()
    if our_weights != peer_weights:
        raise SystemExit(f"the models differ: {our_weights} trainable weights against PyTorch's {peer_weights}")
    train = interleaved({"seqgraph": our_train, "pytorch": peer_train}, repeats=args.rounds, warmup=2)
    infer = interleaved({"seqgraph": our_infer, "pytorch": peer_infer}, repeats=args.rounds * 3, warmup=2)
    rows = {
        name: {
            "training_images_per_second": TRAIN_BATCH * STEPS / train[name],
            "inference_images_per_second": INFER_BATCH / infer[name],
        }
        for name in train
    }
    rows["training_speedup_vs_pytorch"] = train["pytorch"] / train["seqgraph"]
    rows["inference_speedup_vs_pytorch"] = infer["pytorch"] / infer["seqgraph"]
    print(f"vit on 8x8 digits (64 pixel tokens), {our_weights} trainable weights, {THREADS} threads")
    print(f"{'':<10}{'training images/s':>19}{'inference images/s':>20}")
    for name in ("seqgraph", "pytorch"):
        r = rows[name]
        print(f"{name:<10}{r['training_images_per_second']:>19.0f}{r['inference_images_per_second']:>20.0f}")
    print(f"{'speedup':<10}{rows['training_speedup_vs_pytorch']:>19.2f}{rows['inference_speedup_vs_pytorch']:>20.2f}")
    write_results(
        "image_training",
        {
            "model": "vit, app defaults (patch 1, dim 64, depth 4, heads 4, mlp 128)",
            "trainable_weights": our_weights,
            "train_batch": TRAIN_BATCH,
            "steps_per_round": STEPS,
            "infer_batch": INFER_BATCH,
            "threads": THREADS,
            "rounds": args.rounds,
            **rows,
        },
    )


if __name__ == "__main__":
    main()
