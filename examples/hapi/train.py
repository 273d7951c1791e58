"""Train LeNet on the 8x8 digits with Paddle's high-level API (paddle.Model.fit): an ordinary hapi script.

Nothing here knows about paddlectl: `paddlectl train train.py` records loss/acc and the eval metrics by reading
what `fit` prints. The weights go to --output_dir, which defaults to PADDLECTL_OUTPUT_DIR when paddlectl sets it.
"""

import argparse
import os

import numpy as np
import paddle
from paddle.metric import Accuracy
from paddle.static import InputSpec
from paddle.vision.models import LeNet

VALIDATION_SIZE = 297
SPLIT_SEED = 0  # the same split as examples/digits, whatever --seed is


class Digits(paddle.io.Dataset):
    """8x8 digits as LeNet's 1x28x28 input: each pixel repeated 3x3 (24x24), zero-padded by 2, scaled to 0..1."""

    def __init__(self, images, labels):
        super().__init__()
        upsampled = np.kron(images.astype("float32") / 16.0, np.ones((1, 3, 3), dtype="float32"))
        self.images = np.pad(upsampled, ((0, 0), (2, 2), (2, 2)))[:, None, :, :]
        self.labels = labels.astype("int64")[:, None]

    def __getitem__(self, index):
        return self.images[index], self.labels[index]

    def __len__(self):
        return len(self.labels)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.002)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data", default="../digits/digits.npz")
    parser.add_argument("--output_dir", default=os.environ.get("PADDLECTL_OUTPUT_DIR", "output"))
    return parser.parse_args()


def main():
    args = parse_args()
    paddle.seed(args.seed)
    np.random.seed(args.seed)
    paddle.set_device("cpu")

    with np.load(args.data) as data:
        images, labels = data["images"], data["labels"]
    order = np.random.RandomState(SPLIT_SEED).permutation(len(labels))
    train_idx, val_idx = order[:-VALIDATION_SIZE], order[-VALIDATION_SIZE:]
    train_data = Digits(images[train_idx], labels[train_idx])
    val_data = Digits(images[val_idx], labels[val_idx])

    model = paddle.Model(
        LeNet(num_classes=10),
        inputs=[InputSpec([None, 1, 28, 28], "float32", "image")],
        labels=[InputSpec([None, 1], "int64", "label")],
    )
    model.prepare(
        paddle.optimizer.Adam(learning_rate=args.lr, parameters=model.parameters()),
        paddle.nn.CrossEntropyLoss(),
        Accuracy(),
    )
    model.fit(train_data, eval_data=val_data, epochs=args.epochs, batch_size=args.batch_size,
              shuffle=True, verbose=2, log_freq=10)
    model.save(os.path.join(args.output_dir, "lenet"))  # lenet.pdparams and lenet.pdopt


if __name__ == "__main__":
    main()
