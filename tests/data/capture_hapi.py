"""Print real `paddle.Model.fit` output for the metrics parser's tests (runs inside the Paddle image).

Re-capture (raw bytes, no TTY, as paddlectl sees them through docker's attach stream):

    docker run --rm -v "$PWD/tests/data:/data:ro" paddlectl-test/paddle:3.2.0-cpu \
        python3 /data/capture_hapi.py 1 > tests/data/hapi_fit_verbose1.log
    docker run --rm -v "$PWD/tests/data:/data:ro" paddlectl-test/paddle:3.2.0-cpu \
        python3 /data/capture_hapi.py 2 > tests/data/hapi_fit_verbose2.log

The argument is the `verbose` level. 64 training and 32 eval samples, batch 8: 8 train steps and 4 eval steps
per epoch, two epochs, `log_freq=2`.
"""

import sys

import numpy as np
import paddle


def main() -> None:
    verbose = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    paddle.seed(0)
    np.random.seed(0)
    train = paddle.io.TensorDataset(
        [
            paddle.to_tensor(np.random.rand(64, 1, 28, 28).astype("float32")),
            paddle.to_tensor(np.random.randint(0, 10, (64, 1)).astype("int64")),
        ]
    )
    val = paddle.io.TensorDataset(
        [
            paddle.to_tensor(np.random.rand(32, 1, 28, 28).astype("float32")),
            paddle.to_tensor(np.random.randint(0, 10, (32, 1)).astype("int64")),
        ]
    )
    model = paddle.Model(paddle.vision.models.LeNet())
    model.prepare(
        paddle.optimizer.Adam(learning_rate=0.001, parameters=model.parameters()),
        paddle.nn.CrossEntropyLoss(),
        paddle.metric.Accuracy(),
    )
    model.fit(train, eval_data=val, epochs=2, batch_size=8, verbose=verbose, log_freq=2)
    print("done: héllo 🙂", flush=True)


if __name__ == "__main__":
    main()
