"""Export a dynamic-graph Paddle model to a static graph and check the two agree (runs inside the Paddle image).

Reads a JSON request (written by paddlectl.export.run), writes a JSON result next to it. Standard library plus
paddle and numpy only; Python 3.8+. Weights are pickles, which is why they are loaded here and never on the host.

The result's "status" is "passed" (exported and verified), "unverified" (exported, but the predictor's outputs are
not within tolerance of the dynamic graph's) or "error" with error.kind one of: request, factory, weights, inputs,
conversion, predictor, internal.

samples.npz holds the first verification sample: "input/<input name>" and "output/<output name>" arrays, the
outputs being the predictor's.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import math
import os
import re
import sys
import time
import traceback
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: never evaluated, so the image's Python 3.8 reads them
    from collections.abc import Callable, Iterable, Iterator
    from types import TracebackType

    Request = dict[str, Any]  # request.json, as paddlectl.export.run writes it
    Spec = dict[str, Any]  # one declared input: {"name": str, "dtype": str, "shape": [int or None, ...]}
    Sample = dict[str, Any]  # input name -> numpy array
    Declared = list[tuple[list[int], str]]  # each output's shape and dtype, as Paddle declares them

MAX_LISTED = 5
MAX_MESSAGE = 600
SAMPLES_FILE = "samples.npz"
INFERENCE_SUFFIXES = (".json", ".pdmodel", ".pdiparams", ".pdiparams.info")
FLOAT_DTYPES = ("float16", "float32", "float64")


class ExportFailure(Exception):
    """A failure with a kind the host maps to a one-line error."""

    def __init__(self, kind: str, message: str, hint: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.hint = hint
        self.details = details or {}


def _capped(items: Iterable[object], limit: int = MAX_LISTED) -> str:
    items = list(items)
    shown = ", ".join(str(item) for item in items[:limit])
    if len(items) > limit:
        shown += ", and %d more" % (len(items) - limit)
    return shown


def _one_line(text: object, limit: int = MAX_MESSAGE) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _strip_paddle_noise(text: str) -> str:
    """Drop Paddle's C++ source locations and error-code prefixes, which say nothing to a model author."""
    text = re.sub(r"\s*\(at /[^)]*\)", "", text)
    text = re.sub(r"^\s*\((InvalidArgument|PreconditionNotMet|Unimplemented|NotFound|OutOfRange)\)\s*", "", text)
    return text.strip()


def _spec_text(spec: Spec, shape: list[Any] | None = None) -> str:
    dims = shape if shape is not None else spec["shape"]
    return "%s:%s:[%s]" % (spec["name"], spec["dtype"], ", ".join(str(d) for d in dims))


def _user_frame(tb: TracebackType | None, project_dir: str) -> str | None:
    """The deepest traceback frame inside the project, as 'file.py:line', or None."""
    found = None
    for frame in traceback.extract_tb(tb):
        if frame.filename.startswith(project_dir.rstrip("/") + "/"):
            found = "%s:%s" % (os.path.relpath(frame.filename, project_dir), frame.lineno)
    return found


# ---------------------------------------------------------------- model and weights


def build_model(paddle: Any, factory: str, args: dict[str, Any], project_dir: str) -> Any:
    module_name, _, attr_path = factory.partition(":")
    if project_dir and project_dir not in sys.path:
        sys.path.insert(0, project_dir)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module_name
        if module_name == missing or module_name.startswith(missing + "."):
            raise ExportFailure(
                "factory",
                "model factory %s: module '%s' not found in the project root nor in the image's packages"
                % (factory, module_name),
                hint="the module must be importable from the project root, e.g. model.py for --model model:build_model",
            ) from None
        raise ExportFailure(
            "factory",
            "model factory %s: importing module '%s' failed: ModuleNotFoundError: %s" % (factory, module_name, exc),
            hint="the module imports a package the image does not have",
        ) from None
    except Exception as exc:
        raise ExportFailure(
            "factory",
            "model factory %s: importing module '%s' failed: %s: %s"
            % (factory, module_name, type(exc).__name__, _one_line(exc, 300)),
            hint="fix the error in the module (it must import without side effects that need data or a network)",
        ) from None
    target = module
    for part in attr_path.split("."):
        if not hasattr(target, part):
            public = sorted(
                name for name in dir(module) if not name.startswith("_") and callable(getattr(module, name))
            )
            raise ExportFailure(
                "factory",
                "model factory %s: module '%s' has no attribute '%s' (callables there: %s)"
                % (factory, module_name, attr_path, _capped(public, 8) or "none"),
                hint="pass --model module:callable naming a function or class that returns a paddle.nn.Layer",
            )
        target = getattr(target, part)
    if not callable(target):
        raise ExportFailure("factory", "model factory %s is not callable" % factory)
    try:
        model = target(**args)
    except Exception as exc:
        call = "%s(%s)" % (factory, ", ".join("%s=%r" % item for item in sorted(args.items())))
        where = _user_frame(sys.exc_info()[2], project_dir)
        raise ExportFailure(
            "factory",
            "model factory %s raised %s: %s%s"
            % (call, type(exc).__name__, _one_line(exc, 300), " (at %s)" % where if where else ""),
            hint="check --model-arg / export.model_args against the factory's parameters",
        ) from None
    if not isinstance(model, paddle.nn.Layer):
        raise ExportFailure(
            "factory",
            "model factory %s returned %s, not a paddle.nn.Layer" % (factory, type(model).__name__),
            hint="the factory must return the model (a paddle.nn.Layer)",
        )
    return model


def _shape_of(value: Any) -> list[int]:
    return [int(d) for d in getattr(value, "shape", ())]


def load_weights(paddle: Any, model: Any, path: str, shown: str | None = None) -> None:
    """paddle.load the weights and check keys and shapes against the model before setting them."""
    shown = shown or os.path.basename(path)
    try:
        state = paddle.load(path)
    except Exception as exc:
        raise ExportFailure(
            "weights",
            "cannot load weights %s: %s: %s" % (shown, type(exc).__name__, _one_line(exc, 300)),
            hint="pass a .pdparams written by paddle.save(model.state_dict(), path)",
        ) from None
    if not isinstance(state, dict):
        raise ExportFailure(
            "weights",
            "weights %s hold a %s, not a state dict" % (shown, type(state).__name__),
            hint="save with paddle.save(model.state_dict(), path)",
        )
    expected = model.state_dict()
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    mismatched = []
    for key, param in expected.items():
        if key in state and _shape_of(state[key]) != _shape_of(param):
            mismatched.append("%s %s in file vs %s in model" % (key, _shape_of(state[key]), _shape_of(param)))
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append("missing %d key%s: %s" % (len(missing), "" if len(missing) == 1 else "s", _capped(missing)))
        if unexpected:
            parts.append(
                "unexpected %d key%s: %s" % (len(unexpected), "" if len(unexpected) == 1 else "s", _capped(unexpected))
            )
        if mismatched:
            parts.append("shape mismatch: %s" % _capped(mismatched, 3))
        hint = "the weights were saved from a different model or different model args"
        if unexpected and not missing and all("." in key for key in unexpected):
            hint += "; if they are nested (e.g. under 'model.'), save model.state_dict() itself"
        raise ExportFailure(
            "weights",
            "weights %s do not match the model: %s" % (shown, "; ".join(parts)),
            hint=hint,
            details={"missing": missing, "unexpected": unexpected, "shape_mismatches": mismatched},
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.set_state_dict(state)


# ---------------------------------------------------------------- samples


def _random_array(np: Any, rng: Any, dtype: str, shape: list[int]) -> Any:
    if dtype in FLOAT_DTYPES:
        return rng.standard_normal(shape).astype(dtype)
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    if dtype == "uint8":
        return rng.integers(0, 256, size=shape).astype("uint8")
    return rng.integers(0, 10, size=shape).astype(dtype)


def random_samples(
    np: Any, inputs: list[Spec], sample_shapes: dict[str, list[int]], count: int, seed: int
) -> list[Sample]:
    rng = np.random.default_rng(seed)
    return [
        {spec["name"]: _random_array(np, rng, spec["dtype"], sample_shapes[spec["name"]]) for spec in inputs}
        for _ in range(count)
    ]


def _fit_array(np: Any, spec: Spec, array: Any, source: str) -> list[Any]:
    declared = spec["shape"]
    if array.dtype.kind == "f" and spec["dtype"] not in FLOAT_DTYPES:
        raise ExportFailure(
            "request",
            "%s: input '%s' holds %s values but the model input is %s"
            % (source, spec["name"], array.dtype, spec["dtype"]),
        )
    if array.ndim not in (len(declared), len(declared) + 1):
        raise ExportFailure(
            "request",
            "%s: input '%s' has shape %s; expected %s (one sample) or one more leading dimension (several)"
            % (source, spec["name"], list(array.shape), declared),
        )
    batches = [array] if array.ndim == len(declared) else list(array)
    for batch in batches:
        for dim, want in zip(batch.shape, declared):  # Python 3.8 has no strict=
            if want not in (-1, None) and dim != want:
                raise ExportFailure(
                    "request",
                    "%s: input '%s' has sample shape %s, which does not fit the declared %s"
                    % (source, spec["name"], list(batch.shape), _spec_text(spec)),
                    hint="fix the file or the declared input (--input)",
                )
    return [np.ascontiguousarray(batch.astype(spec["dtype"])) for batch in batches]


def file_samples(np: Any, inputs: list[Spec], path: str, shown: str | None = None) -> list[Sample]:
    source = shown or os.path.basename(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ExportFailure(
            "request",
            "cannot read %s: %s" % (source, _one_line(exc, 200)),
            hint="pass a .npy or .npz written by numpy.save / numpy.savez",
        ) from None
    if hasattr(loaded, "files"):
        missing = [spec["name"] for spec in inputs if spec["name"] not in loaded.files]
        if missing:
            raise ExportFailure(
                "request",
                "%s has no array for input%s %s (it has: %s)"
                % (source, "" if len(missing) == 1 else "s", _capped(missing), _capped(loaded.files) or "nothing"),
                hint="name the .npz arrays after the inputs, e.g. numpy.savez(path, x=array)",
            )
        arrays = {spec["name"]: loaded[spec["name"]] for spec in inputs}
    else:
        if len(inputs) != 1:
            raise ExportFailure(
                "request",
                "%s is a single array but the model has %d inputs" % (source, len(inputs)),
                hint="use an .npz with one array per input name",
            )
        arrays = {inputs[0]["name"]: loaded}
    per_input = {spec["name"]: _fit_array(np, spec, arrays[spec["name"]], source) for spec in inputs}
    counts = {len(batches) for batches in per_input.values()}
    if len(counts) != 1:
        raise ExportFailure("request", "%s: the inputs hold different numbers of samples" % source)
    count = counts.pop()
    if count == 0:
        raise ExportFailure("request", "%s holds no samples (a leading dimension of 0)" % source)
    return [{name: batches[i] for name, batches in per_input.items()} for i in range(count)]


# ---------------------------------------------------------------- dynamic graph, conversion, predictor


def _flat_outputs(paddle: Any, outputs: Any) -> list[Any]:
    flatten = getattr(paddle.utils, "flatten", None)
    items = (
        flatten(outputs)
        if flatten is not None
        else (list(outputs) if isinstance(outputs, (list, tuple)) else [outputs])
    )
    return [item.numpy() for item in items if isinstance(item, paddle.Tensor)]


def _forward_failure_text(exc: BaseException) -> str:
    """Paddle's first two sentences, plus its '[Hint: Expected X, but received Y.]' where it gives one."""
    text = str(exc).strip()
    body = _strip_paddle_noise(text.split("[Hint:")[0].split("[operator <")[0])
    sentences = re.split(r"(?<=\.)\s+", " ".join(body.split()))
    line = _one_line(" ".join(sentences[:2]), 350).rstrip(".")
    expected = re.search(r"\[Hint: Expected (.*?), but received (.*?)\.?\](?:\s|$)", text)
    if expected:
        line += "; the model expected %s (received %s)" % (expected.group(1).strip(), expected.group(2).strip())
    return line


def run_dynamic(
    paddle: Any, model: Any, inputs: list[Spec], samples: list[Sample], project_dir: str
) -> list[list[Any]]:
    references = []
    with paddle.no_grad():
        for sample in samples:
            tensors = [paddle.to_tensor(sample[spec["name"]]) for spec in inputs]
            try:
                outputs = model(*tensors)
            except Exception as exc:
                given = ", ".join(_spec_text(spec, list(sample[spec["name"]].shape)) for spec in inputs)
                where = _user_frame(sys.exc_info()[2], project_dir)
                raise ExportFailure(
                    "inputs",
                    "the model's forward pass rejects the input %s: %s%s"
                    % (given, _forward_failure_text(exc), " (at %s)" % where if where else ""),
                    hint="make --input (or export.inputs) match what the model takes: dtype, rank, channels, size",
                    details={"given": given},
                ) from None
            references.append(_flat_outputs(paddle, outputs))
    return references


def _conversion_text(exc: BaseException, project_dir: str) -> str:
    """Paddle's to_static errors carry a long 'In transformed code' story; keep the error line and the user frame."""
    text = str(exc)
    error_line = None
    for line in text.splitlines():
        if re.match(r"^\s*[A-Za-z_][\w.]*(Error|Exception): ", line):
            error_line = line.strip()
    if error_line is None:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        error_line = "%s: %s" % (type(exc).__name__, lines[0] if lines else "")
    error_line = _strip_paddle_noise(error_line.split(" Because ")[0])
    trimmed = re.sub(r"\s+[^.:]*:\s*$", "", error_line)  # a dangling "Suggestions:" whose list was cut off
    if ": " in trimmed:
        error_line = trimmed
    where = None
    prefix = project_dir.rstrip("/") + "/"
    for match in re.finditer(r'File "([^"]+)", line (\d+), in (\S+)', text):
        if match.group(1).startswith(prefix):
            where = "%s:%s in %s" % (os.path.relpath(match.group(1), project_dir), match.group(2), match.group(3))
    return _one_line(error_line, 400) + (" (at %s)" % where if where else "")


def convert(paddle: Any, model: Any, inputs: list[Spec], prefix: str, project_dir: str) -> Declared:
    """to_static + jit.save; returns the declared output shapes and dtypes (None when Paddle does not say)."""
    from paddle.static import InputSpec

    spec = [InputSpec(shape=list(s["shape"]), dtype=s["dtype"], name=s["name"]) for s in inputs]
    try:
        try:
            static = paddle.jit.to_static(model, input_spec=spec, full_graph=True)
        except TypeError:  # Paddle before 2.5 has no full_graph
            static = paddle.jit.to_static(model, input_spec=spec)
        declared = []
        try:
            for value in static.forward.concrete_program.outputs:
                dtype = str(value.dtype).replace("paddle.", "").split(".")[-1].lower()
                declared.append(([int(d) for d in value.shape], dtype))
        except Exception:  # only the record's output shapes depend on this
            declared = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            paddle.jit.save(static, prefix, input_spec=spec)
    except Exception as exc:
        raise ExportFailure(
            "conversion",
            "dynamic-to-static conversion failed for input spec %s: %s"
            % (", ".join(_spec_text(s) for s in inputs), _conversion_text(exc, project_dir)),
            hint="avoid Python control flow on tensor values and .numpy()/float()/int() on tensors in forward; "
            "a fixed shape instead of -1 sometimes helps",
        ) from None
    return declared


def detect_format(export_dir: str, stem: str) -> tuple[str, str]:
    if os.path.exists(os.path.join(export_dir, stem + ".json")):
        return "pir-json", stem + ".json"
    if os.path.exists(os.path.join(export_dir, stem + ".pdmodel")):
        return "pdmodel", stem + ".pdmodel"
    raise ExportFailure("conversion", "paddle.jit.save wrote neither %s.json nor %s.pdmodel" % (stem, stem))


def make_predictor(paddle: Any, model_file: str, params_file: str, use_gpu: bool) -> Any:
    try:
        config = paddle.inference.Config(model_file, params_file)
        if use_gpu:
            config.enable_use_gpu(256, 0)
        else:
            config.disable_gpu()
        config.disable_glog_info()
        return paddle.inference.create_predictor(config)
    except Exception as exc:
        raise ExportFailure(
            "predictor", "paddle.inference cannot load the export: %s" % _one_line(_strip_paddle_noise(str(exc)), 400)
        ) from None


class Runner:
    """Feeds one sample to the predictor by input name and reads every output by the predictor's own names."""

    def __init__(self, predictor: Any, inputs: list[Spec]) -> None:
        self.predictor = predictor
        names = list(predictor.get_input_names())
        declared = [spec["name"] for spec in inputs]
        if sorted(names) != sorted(declared):
            raise ExportFailure("predictor", "the export's inputs are %s, not the declared %s" % (names, declared))
        self.input_names = names
        self.output_names = list(predictor.get_output_names())

    def feed(self, sample: Sample) -> None:
        for name in self.input_names:
            handle = self.predictor.get_input_handle(name)
            handle.reshape(list(sample[name].shape))
            handle.copy_from_cpu(sample[name])

    def __call__(self, sample: Sample) -> list[Any]:
        self.feed(sample)
        self.predictor.run()
        return [self.predictor.get_output_handle(name).copy_to_cpu() for name in self.output_names]


def compare(
    np: Any, references: list[list[Any]], predicted: list[list[Any]], names: list[str], atol: float, rtol: float
) -> tuple[bool, list[dict[str, Any]]]:
    tiny = np.finfo(np.float64).tiny
    stats: list[dict[str, Any]] = [{"name": name, "max_abs_diff": 0.0, "max_rel_diff": 0.0} for name in names]
    passed = True
    for ref_outputs, pred_outputs in zip(references, predicted):  # no strict= before 3.10
        for stat, ref, pred in zip(stats, ref_outputs, pred_outputs):  # lengths checked by the caller
            if ref.shape != pred.shape:
                raise ExportFailure(
                    "predictor",
                    "output %s has shape %s from the predictor but %s from the dynamic graph"
                    % (stat["name"], list(pred.shape), list(ref.shape)),
                )
            a = pred.astype(np.float64)
            b = ref.astype(np.float64)
            diff = np.abs(a - b)
            if diff.size:
                stat["max_abs_diff"] = max(stat["max_abs_diff"], float(diff.max()))
                stat["max_rel_diff"] = max(stat["max_rel_diff"], float((diff / np.maximum(np.abs(b), tiny)).max()))
            passed = passed and bool(np.allclose(a, b, atol=atol, rtol=rtol, equal_nan=True))
    return passed, stats


def measure_latency(runner: Callable[[Sample], object], sample: Sample, runs: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        runner(sample)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runner(sample)
        times.append((time.perf_counter() - start) * 1000.0)
    times.sort()

    def percentile(q: float) -> float:  # nearest rank
        return times[min(len(times) - 1, max(0, math.ceil(q * len(times)) - 1))]

    return {"p50": round(percentile(0.50), 4), "p95": round(percentile(0.95), 4), "runs": runs}


# ---------------------------------------------------------------- the job


def _gpu_visible(paddle: Any) -> bool:
    try:
        return bool(paddle.is_compiled_with_cuda() and paddle.device.cuda.device_count() > 0)
    except Exception:  # a CUDA build without a driver
        return False


def _clear_previous(export_dir: str, stem: str) -> None:
    for name in [stem + suffix for suffix in INFERENCE_SUFFIXES] + [SAMPLES_FILE]:
        path = os.path.join(export_dir, name)
        if os.path.isfile(path):
            os.remove(path)


@contextlib.contextmanager
def _timed(timings: dict[str, float], key: str) -> Iterator[None]:
    """Record the block's duration in timings[key] (seconds) when it ends without an exception."""
    started = time.perf_counter()
    yield
    timings[key] = round(time.perf_counter() - started, 3)


def _import_numpy_and_paddle() -> tuple[Any, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # paddle warns about ccache at import
        import numpy as np
        import paddle
    return np, paddle


def _model_with_weights(paddle: Any, request: Request, project_dir: str) -> Any:
    """The factory's model in eval mode, with the request's weights when it names some."""
    model = build_model(paddle, request["factory"], request.get("model_args") or {}, project_dir)
    if request.get("weights"):
        load_weights(paddle, model, request["weights"], request.get("weights_name"))
    model.eval()
    return model


def _samples(np: Any, request: Request, inputs: list[Spec]) -> list[Sample]:
    if request.get("inputs_file"):
        return file_samples(np, inputs, request["inputs_file"], request.get("inputs_file_name"))
    shapes = {name: list(shape) for name, shape in request["sample_shapes"].items()}
    return random_samples(np, inputs, shapes, int(request.get("samples", 8)), int(request.get("seed", 0)))


def _inference_files(export_dir: str, stem: str) -> list[str]:
    """The names of the files paddle.jit.save wrote for `stem`, sorted."""
    return sorted(
        name
        for name in os.listdir(export_dir)
        if name.startswith(stem + ".") and name[len(stem) :] in INFERENCE_SUFFIXES
    )


def _predict_all(
    paddle: Any, export_dir: str, stem: str, model_file: str, inputs: list[Spec], samples: list[Sample], use_gpu: bool
) -> tuple[Runner, list[list[Any]]]:
    """Load the export with paddle.inference and run every sample: (the runner, outputs per sample)."""
    predictor = make_predictor(
        paddle, os.path.join(export_dir, model_file), os.path.join(export_dir, stem + ".pdiparams"), use_gpu
    )
    runner = Runner(predictor, inputs)
    return runner, [runner(sample) for sample in samples]


def output_specs(names: list[str], declared: Declared, first_outputs: list[Any]) -> list[dict[str, Any]]:
    """Each output's name, dtype and shape: the declared shape (with its dynamic dims) when its rank matches what
    the predictor returned, else the shape it returned."""
    outputs = []
    for index, name in enumerate(names):
        array = first_outputs[index]
        if index < len(declared) and len(declared[index][0]) == array.ndim:
            shape = declared[index][0]
        else:
            shape = list(array.shape)
        outputs.append({"name": name, "dtype": str(array.dtype), "shape": shape})
    return outputs


def _write_samples(np: Any, export_dir: str, sample: Sample, names: list[str], outputs: list[Any]) -> None:
    """samples.npz: the first sample's inputs and the predictor's outputs for it."""
    arrays = {"input/" + name: array for name, array in sample.items()}
    pairs = zip(names, outputs)  # same length, checked by the caller
    arrays.update({"output/" + name: array for name, array in pairs})
    np.savez(os.path.join(export_dir, SAMPLES_FILE), **arrays)


def export(request: Request) -> dict[str, Any]:
    timings: dict[str, float] = {}
    with _timed(timings, "import_s"):
        np, paddle = _import_numpy_and_paddle()
    inputs = request["inputs"]
    project_dir = request.get("project_dir") or ""
    export_dir = request["export_dir"]
    stem = request.get("prefix", "model")
    use_gpu = _gpu_visible(paddle)
    paddle.seed(int(request.get("seed", 0)))

    with _timed(timings, "build_s"):
        model = _model_with_weights(paddle, request, project_dir)
    samples = _samples(np, request, inputs)
    with _timed(timings, "dynamic_s"):
        references = run_dynamic(paddle, model, inputs, samples, project_dir)
    with _timed(timings, "save_s"):
        _clear_previous(export_dir, stem)
        declared = convert(paddle, model, inputs, os.path.join(export_dir, stem), project_dir)
        fmt, model_file = detect_format(export_dir, stem)
    files = _inference_files(export_dir, stem)
    size = sum(os.path.getsize(os.path.join(export_dir, name)) for name in files)
    with _timed(timings, "predictor_s"):
        runner, predicted = _predict_all(paddle, export_dir, stem, model_file, inputs, samples, use_gpu)
    if len(predicted[0]) != len(references[0]):
        raise ExportFailure(
            "predictor",
            "the predictor returns %d outputs (%s) but the dynamic graph %d tensors"
            % (len(predicted[0]), _capped(runner.output_names), len(references[0])),
        )
    atol, rtol = float(request.get("atol", 1e-5)), float(request.get("rtol", 1e-4))
    passed, stats = compare(np, references, predicted, runner.output_names, atol, rtol)
    outputs = output_specs(runner.output_names, declared, predicted[0])
    with _timed(timings, "latency_s"):
        runs = int(request.get("latency_runs", 50))
        latency = measure_latency(runner, samples[0], runs, warmup=min(5, max(1, runs // 10)))
    _write_samples(np, export_dir, samples[0], runner.output_names, predicted[0])

    return {
        "status": "passed" if passed else "unverified",
        "format": fmt,
        "files": files,
        "samples_file": SAMPLES_FILE,
        "size_bytes": size,
        "outputs": outputs,
        "verification": {"passed": passed, "atol": atol, "rtol": rtol, "samples": len(samples), "outputs": stats},
        "latency_ms": latency,
        "paddle_version": paddle.__version__,
        "paddle_commit": str(getattr(paddle.version, "commit", "")) or None,
        "device": "gpu" if use_gpu else "cpu",
        "timings": timings,
    }


def _write_json(path: str, document: dict[str, Any]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        json.dump(document, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--request", required=True)
    args = parser.parse_args(argv)
    result_path = os.path.join(os.path.dirname(args.request), "result.json")
    try:
        with open(args.request) as handle:
            request = json.load(handle)
        result = export(request)
    except ExportFailure as failure:
        result = {
            "status": "error",
            "error": {
                "kind": failure.kind,
                "message": failure.message,
                "hint": failure.hint,
                "details": failure.details,
            },
        }
    except Exception as exc:  # a bug here or in Paddle: keep the traceback for the log
        traceback.print_exc()
        result = {
            "status": "error",
            "error": {
                "kind": "internal",
                "message": "%s: %s" % (type(exc).__name__, _one_line(exc, 400)),
                "hint": None,
                "details": {},
            },
        }
    _write_json(result_path, result)
    return 0 if result["status"] == "passed" else 1


if __name__ == "__main__":
    sys.exit(main())
