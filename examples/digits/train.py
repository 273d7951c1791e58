"""Train a small CNN on the 1,797 8x8 handwritten digits (digits.npz) with plain Paddle dygraph.

Runs the same under paddlectl (`paddlectl train train.py`) and on its own (`python train.py`): under paddlectl
the params arrive as `--key value` arguments, metrics go to the run's record and the weights to its output dir.
"""

import argparse
import json
import os
import random
import time

import numpy as np
import paddle
import paddle.nn.functional as F
from model import build_model

try:  # on PYTHONPATH inside paddlectl's containers; the script must also run without it
    import paddlectl_metrics
except ImportError:
    paddlectl_metrics = None

VALIDATION_SIZE = 297
SPLIT_SEED = 0  # the split never follows --seed: every run is scored on the same 297 images


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Defaults match train.params in paddlectl.yaml, so `python train.py` trains the same model.
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.003)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    # The dataset's name (recorded in the run's params, named on the package's model card) is also its file.
    parser.add_argument("--dataset", default="digits", help="load <dataset>.npz: images and labels")
    # A sample for quick runs (the `ci` profile in paddlectl.yaml): train on the first N of the 1,500 training
    # images. Validation stays the same 297 images, so a sample run's val_acc measures the same thing.
    parser.add_argument("--data_limit", type=int, default=0, help="train on at most N images (0: all)")
    args = parser.parse_args()
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0 or args.data_limit < 0:
        parser.error("--epochs and --batch_size must be at least 1, --lr above 0 and --data_limit 0 or more")
    return args


def output_dir():
    path = paddlectl_metrics.output_dir() if paddlectl_metrics else os.environ.get("PADDLECTL_OUTPUT_DIR", "outputs")
    os.makedirs(path, exist_ok=True)
    return path


def log(metrics, step):
    if paddlectl_metrics is not None:
        paddlectl_metrics.log_metrics(metrics, step=step)


def load_data(path):
    """Images as float32 [N, 1, 8, 8] raw 0..16 pixels (the model scales them), labels int64 [N]."""
    with np.load(path) as data:
        images = data["images"].astype("float32")[:, None, :, :]
        labels = data["labels"].astype("int64")
    order = np.random.RandomState(SPLIT_SEED).permutation(len(labels))
    train, val = order[:-VALIDATION_SIZE], order[-VALIDATION_SIZE:]
    return (images[train], labels[train]), (images[val], labels[val])


def evaluate(model, images, labels, batch_size):
    """Mean loss and accuracy over a whole set, without gradients."""
    model.eval()
    total_loss, correct = 0.0, 0
    with paddle.no_grad():
        for start in range(0, len(labels), batch_size):
            x = paddle.to_tensor(images[start:start + batch_size])
            y = paddle.to_tensor(labels[start:start + batch_size])
            logits = model(x)
            total_loss += float(F.cross_entropy(logits, y, reduction="sum"))
            correct += int((logits.argmax(axis=1) == y).astype("int64").sum())
    return total_loss / len(labels), correct / len(labels)


def main():
    args = parse_args()
    # Same seed, same numbers: Python, NumPy (the shuffling) and Paddle (the initial weights) are all seeded.
    random.seed(args.seed)
    np.random.seed(args.seed)
    paddle.seed(args.seed)
    paddle.set_device("cpu")

    (train_x, train_y), (val_x, val_y) = load_data(args.dataset + ".npz")
    if args.data_limit:
        train_x, train_y = train_x[:args.data_limit], train_y[:args.data_limit]
    print(f"train {len(train_y)} samples, validation {len(val_y)}; "
          f"epochs {args.epochs}, lr {args.lr}, batch_size {args.batch_size}, seed {args.seed}", flush=True)

    model = build_model(num_classes=10)
    optimizer = paddle.optimizer.Adam(learning_rate=args.lr, parameters=model.parameters())
    shuffler = np.random.RandomState(args.seed)
    started = time.time()
    final = {}
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = shuffler.permutation(len(train_y))
        total_loss, correct = 0.0, 0
        for start in range(0, len(order), args.batch_size):
            batch = order[start:start + args.batch_size]
            x = paddle.to_tensor(train_x[batch])
            y = paddle.to_tensor(train_y[batch])
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            optimizer.step()
            optimizer.clear_grad()
            total_loss += float(loss) * len(batch)
            correct += int((logits.argmax(axis=1) == y).astype("int64").sum())
        val_loss, val_acc = evaluate(model, val_x, val_y, 256)
        final = {
            "loss": round(total_loss / len(train_y), 6),
            "acc": round(correct / len(train_y), 6),
            "val_loss": round(val_loss, 6),
            "val_acc": round(val_acc, 6),
        }
        log(final, step=epoch)
        print(f"epoch {epoch}/{args.epochs} loss {final['loss']:.4f} acc {final['acc']:.4f} "
              f"val_loss {final['val_loss']:.4f} val_acc {final['val_acc']:.4f}", flush=True)

    out = output_dir()
    paddle.save(model.state_dict(), os.path.join(out, "model.pdparams"))
    with open(os.path.join(out, "metrics.json"), "w", encoding="utf-8") as handle:
        json.dump(final, handle, indent=2, sort_keys=True)  # no timings: same seed, same bytes
    print(f"saved {os.path.join(out, 'model.pdparams')} (val_acc {final['val_acc']:.4f}, "
          f"{time.time() - started:.1f} s training)", flush=True)


if __name__ == "__main__":
    main()
