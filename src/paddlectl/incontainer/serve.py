"""Serve one exported PaddlePaddle model with paddle.inference: the prod image's entrypoint.

    serve.py predict IN.npz|IN.npy OUT.npz|OUT.npy  predict from a file
    serve.py serve [--host H] [--port N]             HTTP: GET /health, GET /metadata, POST /predict
    serve.py health [--port N]                       exit 0 when the local server answers /health (the HEALTHCHECK)
    serve.py check                                   load the model and run nothing (the image build runs this)
Any other command runs as given, so `docker run IMAGE id -u` works.

Inputs: an .npz keyed by input name (or "input/<name>", as in an export's samples.npz; other keys are ignored), or
an .npy for a one-input model. POST /predict takes the same .npz bytes (any Content-Type but JSON) or JSON
{"inputs": {"x": [[...]]}} and answers in kind: an .npz keyed by output name, or {"outputs": {"name": [...]}}.
The model folder is $PADDLECTL_MODEL_DIR (or --model): model.json or model.pdmodel, plus model.pdiparams.
Standard library, numpy and paddle only; runs on Python 3.8+ (the official images ship 3.10).
"""

from __future__ import annotations

import argparse
import glob
import io
import json
import os
import signal
import sys
import threading
import urllib.request
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: never evaluated, so the image's Python 3.8 reads them
    from collections.abc import Mapping
    from types import FrameType

DEFAULT_MODEL_DIR = "/opt/paddlectl/model"
DEFAULT_PORT = 8080
MAX_BODY_BYTES = int(os.environ.get("PADDLECTL_MAX_BODY_BYTES", str(64 * 1024 * 1024)))
COMMANDS = ("predict", "serve", "health", "check")


class RequestError(Exception):
    """Bad input from a client or a file: a message for a 400 answer or a one-line error."""


def find_model_files(model_dir: str) -> tuple[str, str]:
    """(model file, params file): model.json (PIR) first, else model.pdmodel, with the one .pdiparams."""
    params = sorted(glob.glob(os.path.join(model_dir, "*.pdiparams")))
    if len(params) != 1:
        raise SystemExit("serve.py: expected one .pdiparams file in %s, found %d" % (model_dir, len(params)))
    stem = params[0][: -len(".pdiparams")]
    for suffix in (".json", ".pdmodel"):
        if os.path.isfile(stem + suffix):
            return stem + suffix, params[0]
    raise SystemExit("serve.py: no %s.json or %s.pdmodel next to the parameters" % (stem, stem))


class Model:
    """A paddle.inference predictor and its input/output names; one request at a time (predictors are not shared)."""

    def __init__(self, model_dir: str) -> None:
        import numpy as np

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # paddle warns about a missing ccache on import: noise here
            import paddle
            from paddle import inference
        model_file, params_file = find_model_files(model_dir)
        config = inference.Config(model_file, params_file)
        if self._use_gpu(paddle):
            config.enable_use_gpu(256, 0)
        else:
            config.disable_gpu()
        config.disable_glog_info()
        self.np: Any = np
        self.predictor = inference.create_predictor(config)
        self.input_names = list(self.predictor.get_input_names())
        self.output_names = list(self.predictor.get_output_names())
        self.input_dtypes: dict[str, str] = {}
        for name in self.input_names:
            dtype = str(self.predictor.get_input_handle(name).type()).rsplit(".", 1)[-1].lower()
            self.input_dtypes[name] = (
                dtype
                if dtype in ("float64", "float32", "float16", "int64", "int32", "uint8", "int8", "bool")
                else "float32"
            )
        self.model_file = os.path.basename(model_file)
        self.lock = threading.Lock()

    @staticmethod
    def _use_gpu(paddle: Any) -> bool:
        device = os.environ.get("PADDLECTL_DEVICE", "auto").lower()
        if device == "cpu":
            return False
        available = paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0
        if device == "gpu" and not available:
            raise SystemExit("serve.py: PADDLECTL_DEVICE=gpu but no GPU is visible to this Paddle build")
        return bool(available)

    def metadata(self) -> dict[str, Any]:
        return {
            "model_file": self.model_file,
            "inputs": [{"name": n, "dtype": self.input_dtypes[n]} for n in self.input_names],
            "outputs": self.output_names,
        }

    def arrays_from_mapping(self, mapping: Mapping[str, Any]) -> dict[str, Any]:
        """Input arrays by name from a mapping keyed by name or "input/<name>", cast to the model's dtypes."""
        np = self.np
        arrays = {}
        for name in self.input_names:
            value = mapping.get(name, mapping.get("input/" + name))
            if value is None:
                raise RequestError("missing input %r (the model takes %s)" % (name, ", ".join(self.input_names)))
            try:
                arrays[name] = np.ascontiguousarray(np.asarray(value, dtype=self.input_dtypes[name]))
            except (TypeError, ValueError) as exc:
                raise RequestError("input %r is not a %s array: %s" % (name, self.input_dtypes[name], exc)) from None
        return arrays

    def predict(self, arrays: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            for name in self.input_names:
                handle = self.predictor.get_input_handle(name)
                handle.reshape(list(arrays[name].shape))
                handle.copy_from_cpu(arrays[name])
            try:
                self.predictor.run()
            except Exception as exc:  # a shape the graph cannot take, mostly: the client's mistake
                shapes = ", ".join("%s %s" % (name, list(arrays[name].shape)) for name in self.input_names)
                raise RequestError("the predictor refused the inputs (%s): %s" % (shapes, paddle_reason(exc))) from None
            return {name: self.predictor.get_output_handle(name).copy_to_cpu() for name in self.output_names}


def paddle_reason(exc: BaseException) -> str:
    """The line of a Paddle error that says what went wrong ("InvalidArgumentError: ..."), not its C++ frames."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if "Error: " in line and not line.startswith(("C++ Traceback", "Error Message Summary")):
            return line[:300]
    return lines[-1][:300] if lines else type(exc).__name__


def load_npz_or_npy(model: Model, data: bytes) -> dict[str, Any]:
    """Arrays by input name from .npz or .npy bytes; never unpickles (allow_pickle=False)."""
    np = model.np
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:
        raise RequestError("not a .npz or .npy file: %s" % exc) from None
    if isinstance(loaded, np.ndarray):
        if len(model.input_names) != 1:
            raise RequestError("an .npy holds one array; the model takes %s: send an .npz" % model.input_names)
        return model.arrays_from_mapping({model.input_names[0]: loaded})
    with loaded:
        return model.arrays_from_mapping({key: loaded[key] for key in loaded.files})


def npz_bytes(model: Model, outputs: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    model.np.savez(buffer, **outputs)
    return buffer.getvalue()


# ---------------------------------------------------------------- commands


def predict_command(model: Model, source: str, target: str) -> None:
    with open(source, "rb") as handle:
        arrays = load_npz_or_npy(model, handle.read())
    outputs = model.predict(arrays)
    if target.endswith(".npy"):
        if len(outputs) != 1:
            raise RequestError("the model has %d outputs: write an .npz" % len(outputs))
        model.np.save(target, next(iter(outputs.values())))
    else:
        with open(target, "wb") as handle:
            handle.write(npz_bytes(model, outputs))
    shapes = ", ".join("%s %s" % (name, list(array.shape)) for name, array in outputs.items())
    sys.stderr.write("serve.py: predicted %s -> %s (%s)\n" % (source, target, shapes))


class Handler(BaseHTTPRequestHandler):
    model: Model  # set by serve_command, before the server starts
    server_version = "paddlectl-serve/1"

    def log_message(self, format: str, *args: Any) -> None:  # BaseHTTPRequestHandler's own signature
        sys.stderr.write("serve.py: %s %s\n" % (self.address_string(), format % args))

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, document: object) -> None:
        self._send(status, json.dumps(document).encode("utf-8"), "application/json")

    def do_GET(self) -> None:
        if self.path == "/health":
            self._json(200, {"status": "ok"})
        elif self.path == "/metadata":
            self._json(200, self.model.metadata())
        else:
            self._json(404, {"error": "not found: GET /health, GET /metadata or POST /predict"})

    def do_POST(self) -> None:
        if self.path != "/predict":
            self._json(404, {"error": "not found: POST /predict"})
            return
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            length = -1
        if length <= 0 or length > MAX_BODY_BYTES:
            self._json(
                413 if length > MAX_BODY_BYTES else 411,
                {"error": "send a body with Content-Length between 1 and %d bytes" % MAX_BODY_BYTES},
            )
            return
        body = self.rfile.read(length)
        as_json = "json" in (self.headers.get("Content-Type") or "").lower()
        try:
            if as_json:
                try:
                    document = json.loads(body.decode("utf-8"))
                except ValueError as exc:
                    raise RequestError("not JSON: %s" % exc) from None
                if not isinstance(document, dict):
                    raise RequestError('send {"inputs": {"<name>": [...]}}')
                mapping = document.get("inputs", document)
                if not isinstance(mapping, dict):
                    raise RequestError('"inputs" must map input names to arrays')
                outputs = self.model.predict(self.model.arrays_from_mapping(mapping))
            else:
                outputs = self.model.predict(load_npz_or_npy(self.model, body))
        except RequestError as exc:
            self._json(400, {"error": str(exc)})
            return
        if as_json:
            self._json(200, {"outputs": {name: array.tolist() for name, array in outputs.items()}})
        else:
            self._send(200, npz_bytes(self.model, outputs), "application/octet-stream")


def serve_command(model: Model, host: str, port: int) -> None:
    Handler.model = model
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True

    def stop(signum: int, frame: FrameType | None) -> None:
        # shutdown() waits for serve_forever to return: call it from another thread, not this handler's
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stderr.write(
        "serve.py: serving %s on http://%s:%d (inputs %s, outputs %s)\n"
        % (model.model_file, host, port, model.input_names, model.output_names)
    )
    try:
        server.serve_forever()
    finally:
        server.server_close()


def health_command(port: int) -> int:
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=4) as response:  # noqa: S310
            return 0 if response.status == 200 else 1
    except Exception as exc:  # any failure is "unhealthy"; say why for `docker inspect`
        sys.stderr.write("serve.py: unhealthy: %s\n" % exc)
        return 1


def main(argv: list[str]) -> int:
    if argv and argv[0] not in COMMANDS and not argv[0].startswith("-"):
        os.execvp(argv[0], argv)  # noqa: S606 - `docker run IMAGE id -u`, `docker run IMAGE sh`
    parser = argparse.ArgumentParser(prog="serve.py", description=__doc__.splitlines()[0])
    with_model = argparse.ArgumentParser(add_help=False)
    with_model.add_argument(
        "--model",
        default=os.environ.get("PADDLECTL_MODEL_DIR", DEFAULT_MODEL_DIR),
        help="the model folder (default $PADDLECTL_MODEL_DIR)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    predict = commands.add_parser(
        "predict", parents=[with_model], help="predict from an .npz/.npy file into an .npz/.npy file"
    )
    predict.add_argument("source")
    predict.add_argument("target")
    port = int(os.environ.get("PORT", str(DEFAULT_PORT)))
    serve = commands.add_parser(
        "serve", parents=[with_model], help="serve HTTP: GET /health, GET /metadata, POST /predict"
    )
    serve.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))  # noqa: S104 - inside a container
    serve.add_argument("--port", type=int, default=port)
    health = commands.add_parser("health", help="exit 0 when the local server answers /health")
    health.add_argument("--port", type=int, default=port)
    commands.add_parser("check", parents=[with_model], help="load the model and exit")
    args = parser.parse_args(argv)
    if args.command == "health":
        return health_command(args.port)
    model = Model(args.model)
    try:
        if args.command == "predict":
            predict_command(model, args.source, args.target)
        elif args.command == "serve":
            serve_command(model, args.host, args.port)
        else:
            sys.stderr.write(
                "serve.py: %s loads: inputs %s, outputs %s\n"
                % (model.model_file, model.input_names, model.output_names)
            )
    except (RequestError, OSError) as exc:
        sys.stderr.write("serve.py: error: %s\n" % exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
