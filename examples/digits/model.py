"""A small CNN for 8x8 digit images: the factory `paddlectl export` calls (export.model: model:build_model)."""

import paddle
from paddle import nn


class DigitsCNN(nn.Layer):
    """Two 3x3 convolutions, one 2x2 max-pool and two linear layers: about 40k parameters."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2D(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2D(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2D(kernel_size=2, stride=2),  # 8x8 -> 4x4
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 64),
            nn.ReLU(),
            nn.Linear(64, num_classes),
        )

    def forward(self, x: paddle.Tensor) -> paddle.Tensor:
        """x: float32 [N, 1, 8, 8] of raw pixel counts 0..16, as in digits.npz; returns logits [N, num_classes]."""
        # Scaling inside the model means the exported graph takes the dataset's raw pixels: no preprocessing
        # step for a consumer of the package to get wrong.
        return self.classifier(self.features(x * (1.0 / 16.0)))


def build_model(num_classes: int = 10) -> nn.Layer:
    """The model, freshly initialised (paddle.seed decides the initial weights)."""
    return DigitsCNN(num_classes=num_classes)
