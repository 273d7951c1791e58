"""Print, as one JSON line, the Paddle/CUDA/Python runtime found in this image (runs inside the container)."""

from __future__ import annotations

import json
import platform
import sys
from typing import Any


def probe() -> dict[str, Any]:
    info: dict[str, Any] = {"python": platform.python_version(), "python_executable": sys.executable}
    try:
        import paddle
    except Exception as exc:  # any import failure is the answer
        info["paddle_error"] = "%s: %s" % (type(exc).__name__, exc)
        return info
    info["paddle_version"] = paddle.__version__
    info["paddle_commit"] = getattr(paddle.version, "commit", None)
    compiled = bool(paddle.is_compiled_with_cuda())
    info["compiled_with_cuda"] = compiled
    # On CPU builds these return the *string* 'False'.
    cuda = str(paddle.version.cuda())
    cudnn = str(paddle.version.cudnn())
    info["cuda"] = None if cuda == "False" else cuda
    info["cudnn"] = None if cudnn == "False" else cudnn
    gpus = []
    if compiled:
        try:
            for index in range(paddle.device.cuda.device_count()):
                gpus.append(paddle.device.cuda.get_device_name(index))
        except Exception as exc:
            info["gpu_error"] = str(exc)
    info["gpus"] = gpus
    return info


if __name__ == "__main__":
    sys.stdout.write("PADDLECTL_RUNTIME " + json.dumps(probe()) + "\n")  # foundation/names.RUNTIME_PROBE_MARK
