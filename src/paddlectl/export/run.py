"""`paddlectl export`: a dynamic-graph model to a static graph, inside the run's pinned image, proven equivalent.

The host side plans (options, config, run, weights, inputs), picks the exact image, runs
incontainer/export_model.py in a one-shot container and turns its result.json into export/export.yaml. A run
trained on a remote host is exported there (its image is there): the one-shot sends the project, weights and
request in and fetches the export back (engine/oneshot.py).
Weights are pickles: this module never opens them (no paddle, numpy or pickle here); only the container loads them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paddlectl.engine.image_lookup import digest_of
from paddlectl.engine.oneshot import run_oneshot
from paddlectl.engine.protocol import ContainerEngine, ContainerSpec, EngineFactory, Mount
from paddlectl.errors import ExitCode, PaddlectlError, UnavailableError, UsageError
from paddlectl.export.record import (
    RECORD_NAME,
    SAMPLES_NAME,
    SCHEMA_VERSION,
    ExportRecord,
    VerificationStatus,
    update_run_manifest,
)
from paddlectl.export.source import RunSource, find_run_weights, load_run, resolve_run_dir
from paddlectl.export.spec import (
    json_safe,
    parse_input_option,
    parse_model_args,
    parse_sample_shapes,
    resolve_sample_shapes,
    validate_factory,
    validate_inputs,
)
from paddlectl.foundation import clock
from paddlectl.foundation.atomic import write_atomic
from paddlectl.foundation.enums import TextEnum
from paddlectl.foundation.image_ref import ImageRef, PinnedImage
from paddlectl.foundation.names import EXPORT_DIR_NAME, FOR_RUN_LABEL, KIND_EXPORT
from paddlectl.foundation.signals import signals
from paddlectl.foundation.yamlio import dump_yaml
from paddlectl.project.config import InputSpec
from paddlectl.project.workspace import Project
from paddlectl.runs.manifest import RunStatus

MODEL_PREFIX = "model"
EXPORT_TIMEOUT_SECONDS = 3600.0
LIB_DIR = Path(__file__).resolve().parent.parent / "incontainer"
IN_PROJECT = "/workspace"
IN_LIB = "/paddlectl/lib"
IN_JOB = "/paddlectl/job"
IN_EXPORT = "/paddlectl/export"
IN_WEIGHTS = "/paddlectl/weights"
IN_INPUTS = "/paddlectl/inputs"
# HOME is the container's own /tmp (Paddle caches there; the user has no home inside); glog stays quiet.
CONTAINER_ENV = {
    "HOME": "/tmp",  # noqa: S108
    "GLOG_minloglevel": "2",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
}


class FailureKind(TextEnum):
    """Why the container could not export; each maps to one exit code."""

    REQUEST = "request"
    FACTORY = "factory"
    WEIGHTS = "weights"
    INPUTS = "inputs"
    CONVERSION = "conversion"
    PREDICTOR = "predictor"
    INTERNAL = "internal"


_FAILURE_CODES = {
    FailureKind.REQUEST: ExitCode.USAGE,
    FailureKind.FACTORY: ExitCode.USAGE,
    FailureKind.WEIGHTS: ExitCode.USAGE,
    FailureKind.INPUTS: ExitCode.USAGE,
    FailureKind.CONVERSION: ExitCode.FAILED,
    FailureKind.PREDICTOR: ExitCode.FAILED,
    FailureKind.INTERNAL: ExitCode.INTERNAL,
}


@dataclass(frozen=True)
class ExportOptions:
    """What the user asked for, unparsed (the CLI passes its options through)."""

    run: str | None = None
    weights: Path | None = None
    random_init: bool = False
    model: str | None = None
    model_args: tuple[str, ...] = ()
    inputs: tuple[str, ...] = ()
    sample_shapes: tuple[str, ...] = ()
    samples: int = 8
    inputs_file: Path | None = None
    atol: float = 1e-5
    rtol: float = 1e-4
    latency_runs: int = 50
    image: str | None = None
    output_dir: Path | None = None
    allow_failed: bool = False


@dataclass(frozen=True)
class ExportPlan:
    """Everything decided before the engine is touched."""

    project_root: Path
    project_name: str
    factory: str
    model_args: dict[str, Any]
    inputs: tuple[InputSpec, ...]
    sample_shapes: dict[str, tuple[int, ...]]
    samples: int
    inputs_file: Path | None
    weights: Path | None
    weights_label: str | None
    atol: float
    rtol: float
    latency_runs: int
    export_dir: Path
    image: str | None  # an explicit image; None: the run's own
    run: RunSource | None = None
    warnings: tuple[str, ...] = ()

    def request(self) -> dict[str, Any]:
        """The JSON request export_model.py reads inside the container."""
        return {
            "factory": self.factory,
            "model_args": self.model_args,
            "inputs": [spec.as_dict() for spec in self.inputs],
            "sample_shapes": {name: list(shape) for name, shape in self.sample_shapes.items()},
            "samples": self.samples,
            "inputs_file": _inputs_target(self.inputs_file) if self.inputs_file else None,
            "inputs_file_name": self.inputs_file.name if self.inputs_file else None,
            "weights": _weights_target(self.weights) if self.weights else None,
            "weights_name": self.weights.name if self.weights else None,
            "atol": self.atol,
            "rtol": self.rtol,
            "latency_runs": self.latency_runs,
            "project_dir": IN_PROJECT,
            "export_dir": IN_EXPORT,
            "prefix": MODEL_PREFIX,
            "seed": 0,
        }


@dataclass(frozen=True)
class ImageChoice:
    """The image to run (tag, digest reference or id) and what the record says about it."""

    run_reference: str
    reference: str | None
    id: str
    digest: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "id": self.id, "digest": self.digest}


@dataclass(frozen=True)
class ExportOutcome:
    record: ExportRecord
    export_dir: Path
    verified: bool
    duration_s: float
    timings: dict[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


# Fixed file names inside the container: a ':' in a host file name would break the bind spec.
def _weights_target(path: Path) -> str:
    return f"{IN_WEIGHTS}/weights{path.suffix or '.pdparams'}"


def _inputs_target(path: Path) -> str:
    return f"{IN_INPUTS}/inputs{path.suffix}"


# ---------------------------------------------------------------- the plan


def plan_export(project: Project, options: ExportOptions, engine_factory: EngineFactory | None = None) -> ExportPlan:
    """Validate every option against the config and the run; raises UsageError before any container starts."""
    config = project.config.export
    factory = validate_factory(options.model or config.model)
    # The config's args belong to the config's factory; another --model starts from none.
    base_args = config.model_args if options.model in (None, config.model) else {}
    model_args = {**json_safe(base_args), **parse_model_args(options.model_args)}
    inputs = (
        tuple(parse_input_option(text) for text in options.inputs)
        if options.inputs
        else validate_inputs(config.inputs, "paddlectl.yaml: export.inputs")
    )
    if not inputs:
        raise UsageError(
            "no model inputs declared",
            hint="pass --input x:float32:-1,3,224,224 (repeatable) or set export.inputs in paddlectl.yaml",
        )
    validate_inputs(inputs, "--input")
    inputs_file = _existing_file(options.inputs_file, "--inputs-file") if options.inputs_file else None
    if inputs_file is not None and inputs_file.suffix not in (".npz", ".npy"):
        raise UsageError(f"--inputs-file {inputs_file.name} is not .npz or .npy", hint="save with numpy.savez")
    given_shapes = parse_sample_shapes(options.sample_shapes, inputs)
    sample_shapes = {} if inputs_file else resolve_sample_shapes(inputs, given_shapes)
    for name, value in (("--samples", options.samples), ("--latency-runs", options.latency_runs)):
        if value < 1:
            raise UsageError(f"{name} must be at least 1, not {value}")
    if options.atol < 0 or options.rtol < 0:
        raise UsageError("--atol and --rtol must not be negative")
    if options.random_init and options.weights is not None:
        raise UsageError(
            "--random-init and --weights exclude each other",
            hint="--random-init exports untrained weights, for smoke-testing an export",
        )

    run, weights, label, export_dir, warnings = _locate(project, options, engine_factory)
    _check_export_dir(export_dir)
    return ExportPlan(
        project_root=project.root,
        project_name=project.config.name,
        factory=factory,
        model_args=model_args,
        inputs=inputs,
        sample_shapes=sample_shapes,
        samples=options.samples,
        inputs_file=inputs_file,
        weights=weights,
        weights_label=label,
        atol=options.atol,
        rtol=options.rtol,
        latency_runs=options.latency_runs,
        export_dir=export_dir,
        image=options.image or (None if run else project.config.cpu_image),
        run=run,
        warnings=tuple(warnings),
    )


def _locate(
    project: Project, options: ExportOptions, engine_factory: EngineFactory | None
) -> tuple[RunSource | None, Path | None, str | None, Path, list[str]]:
    """The run (if any), the weights and how the record names them, the export directory, and warnings."""
    if options.run is None:
        if options.weights is None:
            if not options.random_init:
                raise UsageError(
                    "--weights is required without a RUN",
                    hint="pass --weights path.pdparams, a RUN, or --random-init to smoke-test the export",
                )
            return None, None, None, (options.output_dir or Path("export")).resolve(), []
        weights = _existing_file(options.weights, "--weights")
        return None, weights, str(options.weights), (options.output_dir or Path("export")).resolve(), []
    if options.random_init:
        raise UsageError("--random-init does not combine with a RUN", hint="drop RUN to smoke-test an export")
    if options.output_dir is not None:
        raise UsageError("a run's export always goes to its run directory (export/)", hint="drop -o")
    run = load_run(resolve_run_dir(options.run, project, engine_factory))
    warnings = []
    if run.status is not RunStatus.SUCCEEDED:
        if not options.allow_failed:  # checked before the weights: a failed run's missing weights are no config bug
            raise UsageError(
                f"run {run.run_id} {run.status.value}"
                + (f" ({run.reason})" if run.reason else "")
                + ": its weights may be missing or half-trained",
                hint="train it again, or pass --allow-failed to export what it saved",
            )
        warnings.append(
            f"run {run.run_id} is {run.status.value}, not succeeded (exporting it because of --allow-failed)"
        )
    weights = find_run_weights(run, options.weights, project.config.export.weights)
    if options.image:
        warnings.append(f"exporting with --image {options.image}, not the run's own image")
    return run, weights, _relative_label(weights, run.run_dir), run.run_dir / EXPORT_DIR_NAME, warnings


def _existing_file(path: Path, option: str) -> Path:
    if not path.is_file():
        raise UsageError(f"{option} {path}: no such file", hint=f"check the path given to {option}")
    return path.resolve()


def _relative_label(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _check_export_dir(export_dir: Path) -> None:
    if export_dir.exists() and not export_dir.is_dir():
        raise UsageError(f"{export_dir} exists and is not a directory", hint="choose another -o")
    if export_dir.is_dir() and any(export_dir.iterdir()) and not (export_dir / RECORD_NAME).is_file():
        raise UsageError(
            f"{export_dir} is not empty and holds no earlier export",
            hint="choose another -o; paddlectl replaces only directories it exported to",
        )


# ---------------------------------------------------------------- the image


def choose_image(engine: ContainerEngine, plan: ExportPlan) -> ImageChoice:
    """The explicit image, else the run's exact image (by digest, else by id); UnavailableError when it is gone."""
    if plan.image is not None:
        if not plan.image.startswith("sha256:"):
            PinnedImage.parse(plan.image)  # refuses floating tags such as latest
        info = engine.image(plan.image)
        if info is None:
            raise UnavailableError(f"image {plan.image} is not present locally", hint=f"docker pull {plan.image}")
        reference = None if plan.image.startswith("sha256:") else plan.image
        return ImageChoice(
            plan.image,
            reference or (info.tags[0] if info.tags else None),
            info.id,
            digest_of(info, ImageRef.split(reference).repository if reference else None),
        )
    assert plan.run is not None
    recorded = plan.run.image
    reference, digest, image_id = recorded.reference, recorded.digest, recorded.id
    if digest and ("@" in str(digest) or reference):
        pinned = str(digest) if "@" in str(digest) else ImageRef.split(str(reference)).by_digest(str(digest))
        info = engine.image(pinned)
        if info is None:
            raise UnavailableError(
                f"run {plan.run.run_id}'s image is no longer present: docker pull {pinned}",
                hint=f"run 'docker pull {pinned}', or pass --image to export with another image (recorded as such)",
            )
        return ImageChoice(pinned, reference, info.id, str(digest).rpartition("@")[2])
    info = engine.image(str(image_id))
    if info is None:
        raise UnavailableError(
            f"run {plan.run.run_id}'s image id {str(image_id)[:19]} (tagged {reference or 'nothing'}) "
            "is no longer present and, built locally, cannot be pulled",
            hint="rebuild it and pass --image; the export record will name the image it used",
        )
    return ImageChoice(str(image_id), reference, info.id, None)


# ---------------------------------------------------------------- the container


def container_spec(plan: ExportPlan, image: str, job_dir: Path, staging: Path) -> ContainerSpec:
    mounts = [
        Mount(str(plan.project_root), IN_PROJECT, read_only=True),
        Mount(str(LIB_DIR), IN_LIB, read_only=True),
        Mount(str(job_dir), IN_JOB),
        Mount(str(staging), IN_EXPORT),
    ]
    if plan.weights is not None:
        mounts.append(Mount(str(plan.weights), _weights_target(plan.weights), read_only=True))
    if plan.inputs_file is not None:
        mounts.append(Mount(str(plan.inputs_file), _inputs_target(plan.inputs_file), read_only=True))
    return ContainerSpec(
        image=image,
        command=["python3", f"{IN_LIB}/export_model.py", "--request", f"{IN_JOB}/request.json"],
        labels={FOR_RUN_LABEL: plan.run.run_id} if plan.run else {},
        environment=dict(CONTAINER_ENV),
        mounts=mounts,
        working_dir=IN_PROJECT,
        user=f"{os.getuid()}:{os.getgid()}",
        network_mode="none",
        init=True,
    )


def _code_tree(plan: ExportPlan) -> dict[str, list[str]]:
    """On a remote engine, the project files sent for the factory to import: the tree a run records (tracked files
    and uncommitted changes, git-ignored ones left out), not every file under the project."""
    from paddlectl.foundation.source_tree import source_files
    from paddlectl.project.config import STORE_NAME

    return {IN_PROJECT: source_files(plan.project_root, STORE_NAME)}


def failure_error(error: dict[str, Any]) -> PaddlectlError:
    """The one-line error for a failure result.json reports."""
    try:
        kind = FailureKind(error.get("kind"))
    except ValueError:
        kind = FailureKind.INTERNAL
    message = str(error.get("message") or "the export failed")
    hint = error.get("hint")
    if kind is FailureKind.INTERNAL:
        hint = hint or "this looks like a bug in paddlectl or Paddle; please report it"
    return PaddlectlError(message, hint=None if hint is None else str(hint), code=_FAILURE_CODES[kind])


def run_export(engine: ContainerEngine, plan: ExportPlan) -> ExportOutcome:
    """Run the export container, then write export.yaml (and the run's manifest) from its result.

    Stop signals are held except while the container works (engine/oneshot.py): one then removes the container,
    the staging and job folders, and propagates as Interrupted; the previous export stays as it was.
    """
    with signals.held():
        return _export(engine, plan)


def _export(engine: ContainerEngine, plan: ExportPlan) -> ExportOutcome:
    started = time.monotonic()
    image = choose_image(engine, plan)
    plan.export_dir.parent.mkdir(parents=True, exist_ok=True)
    # The container writes into a sibling staging folder; a failed export leaves the previous one intact.
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=plan.export_dir.parent))
    staging.chmod(0o777 & ~_umask())  # mkdtemp's 0700 would make the export private
    job_dir = Path(tempfile.mkdtemp(prefix="paddlectl-export-"))  # private (0700), removed afterwards
    keep_job = False
    try:
        (job_dir / "request.json").write_text(json.dumps(plan.request(), indent=2), encoding="utf-8")
        result = run_oneshot(
            engine,
            container_spec(plan, image.run_reference, job_dir, staging),
            KIND_EXPORT,
            timeout=EXPORT_TIMEOUT_SECONDS,
            project=plan.project_name,
            trees=_code_tree(plan) if engine.host.remote else None,
        )
        document = _read_result(job_dir / "result.json")
        if document is None or document.get("status") not in ("passed", "unverified", "error"):
            keep_job = True
            (job_dir / "output.log").write_text(result.output, encoding="utf-8")
            if result.oom_killed:
                raise PaddlectlError(
                    "the export container was killed for running out of memory",
                    hint="free memory, or export with a smaller --sample-shape",
                    code=ExitCode.FAILED,
                )
            raise PaddlectlError(
                f"the export container exited with code {result.exit_code} without a result: "
                f"{_last_line(result.output)}",
                hint=f"its output is in {job_dir / 'output.log'}",
                code=ExitCode.FAILED,
            )
        if document["status"] == "error":
            error = dict(document.get("error") or {})
            if error.get("kind") == FailureKind.INTERNAL.value:
                keep_job = True
                (job_dir / "output.log").write_text(result.output, encoding="utf-8")
                error["hint"] = f"the container's output, with the traceback, is in {job_dir / 'output.log'}"
            raise failure_error(error)
        record = build_record(plan, document, image, _now())
        write_atomic(staging / RECORD_NAME, dump_yaml(record.to_dict()))
        _replace_dir(staging, plan.export_dir)
        if plan.run is not None:
            update_run_manifest(plan.run, record)
        return ExportOutcome(
            record=record,
            export_dir=plan.export_dir,
            verified=document["status"] == "passed",
            duration_s=round(time.monotonic() - started, 2),
            timings=dict(document.get("timings") or {}),
            warnings=plan.warnings,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not keep_job:
            shutil.rmtree(job_dir, ignore_errors=True)


def build_record(plan: ExportPlan, result: dict[str, Any], image: ImageChoice, created_at: str) -> ExportRecord:
    """export.yaml's record, from the plan and the container's result (another command reads this format).

    Raises PaddlectlError when the container's answer does not read as one (a value of the wrong type).
    """
    from paddlectl.foundation.records import RecordError, load

    verification = result.get("verification") or {}
    status = VerificationStatus.PASSED if result.get("status") == "passed" else VerificationStatus.UNVERIFIED
    document = {
        "schema_version": SCHEMA_VERSION,
        "format": result.get("format"),
        "paddle_version": result.get("paddle_version"),
        "paddle_commit": result.get("paddle_commit"),
        "files": list(result.get("files") or []),
        "samples": result.get("samples_file") or SAMPLES_NAME,
        "model": {"factory": plan.factory, "args": plan.model_args, "weights": plan.weights_label},
        "inputs": [spec.as_dict() for spec in plan.inputs],
        "outputs": [
            {"name": o.get("name"), "dtype": o.get("dtype"), "shape": list(o.get("shape") or [])}
            for o in result.get("outputs") or []
        ],
        "verification": {
            "status": status.value,
            "atol": plan.atol,
            "rtol": plan.rtol,
            "samples": verification.get("samples"),
            "outputs": [
                {"name": s.get("name"), "max_abs_diff": s.get("max_abs_diff"), "max_rel_diff": s.get("max_rel_diff")}
                for s in verification.get("outputs") or []
            ],
        },
        "latency_ms": result.get("latency_ms"),
        "size_bytes": result.get("size_bytes"),
        "run_id": plan.run.run_id if plan.run else None,
        "image": image.as_dict(),
        "created_at": created_at,
    }
    try:
        return load(ExportRecord, document)
    except RecordError as exc:
        raise PaddlectlError(
            f"the export container's answer does not read as an export record: {exc}",
            hint="this is a bug in paddlectl's export script; report it with the image you exported in",
            code=ExitCode.FAILED,
        ) from exc


def _read_result(path: Path) -> dict[str, Any] | None:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _now() -> str:
    return clock.utc_now("seconds")


def _replace_dir(staging: Path, target: Path) -> None:
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=".export-old-", dir=target.parent))
        target.replace(old / "export")
    staging.replace(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
