"""`paddlectl image build`: the layered images (base, dev on base, prod from a package), tagged by their content.

For each image: work out its inputs (Dockerfile, lock, files copied in, the parent image's id and digest, the
package), hash them into the tag, and reuse the tag when it exists with that hash in its label. Otherwise download
the locked wheels on the host for the image's own Python and platform (wheelhouse.py), assemble a small build
context, build through the engine and record the result in .paddlectl/images.yaml.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from paddlectl import __version__
from paddlectl.engine.image_lookup import digest_of, resolve_image
from paddlectl.engine.protocol import ContainerEngine, ImageInfo
from paddlectl.errors import UnavailableError, UsageError
from paddlectl.foundation import clock
from paddlectl.foundation.git_values import git_line
from paddlectl.foundation.hashing import sha256_file
from paddlectl.foundation.image_ref import ImageRef, PinnedImage
from paddlectl.foundation.locks import held_lock
from paddlectl.foundation.names import BUILD_LOCK_NAME, store_value
from paddlectl.foundation.secrets import strip_url_credentials
from paddlectl.images.lock import LockFile, load_lock
from paddlectl.images.platform_probe import ImageProbe, probe_image
from paddlectl.images.records import BuiltImage, ImageStore
from paddlectl.images.tags import ImageRole, image_tag, inputs_hash
from paddlectl.images.wheelhouse import cache_root, ensure_wheelhouse
from paddlectl.project.workspace import Project

SOURCES_ENV = "PADDLECTL_IMAGES_DIR"
LABEL_PROJECT = "io.paddlectl.project"
LABEL_ROLE = "io.paddlectl.role"
LABEL_INPUTS = "io.paddlectl.inputs-hash"
INCONTAINER = Path(__file__).resolve().parent.parent / "incontainer"
SERVE_SCRIPT = INCONTAINER / "serve.py"
VERIFY_SCRIPT = INCONTAINER / "verify_package.py"


class BuildEvents(Protocol):
    def status(self, message: str) -> None: ...

    def output(self, line: str) -> None:
        """One line of the engine's build output."""
        ...


@dataclass(frozen=True)
class BuildRequest:
    role: ImageRole
    paddle_image: str | None = None  # default: the project's image for its GPU setting
    package: Path | None = None  # prod only
    key: Path | None = None  # prod only: the package must be signed by this public key
    rebuild: bool = False  # build even when the tag exists with the same inputs


@dataclass(frozen=True)
class BuildResult:
    image: BuiltImage
    reused: bool
    seconds: float
    wheelhouse: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**self.image.as_dict(), "reused": self.reused, "seconds": self.seconds, "wheelhouse": self.wheelhouse}


@dataclass(frozen=True)
class ImageSources:
    """Where the Dockerfiles and locks are: a paddlectl checkout, or $PADDLECTL_IMAGES_DIR."""

    root: Path

    def dockerfile(self, role: ImageRole) -> Path:
        return self.root / role.dockerfile

    def lock(self, role: ImageRole) -> Path:
        return self.root / "images" / f"requirements-{role.value}.lock"


def image_sources() -> ImageSources:
    """Raises UnavailableError when neither $PADDLECTL_IMAGES_DIR nor the checkout holds Dockerfile.base."""
    candidates = [Path(os.environ[SOURCES_ENV])] if os.environ.get(SOURCES_ENV) else []
    candidates.append(Path(__file__).resolve().parents[3])  # src/paddlectl/core/ -> the checkout
    for root in candidates:
        if (root / ImageRole.BASE.dockerfile).is_file():
            return ImageSources(root)
    raise UnavailableError(
        "paddlectl's Dockerfiles are not installed next to it",
        hint=f"set {SOURCES_ENV} to a paddlectl checkout (the folder holding Dockerfile.base and images/)",
    )


@dataclass
class _Plan:
    """What every image of one `build` call shares."""

    engine: ContainerEngine
    project: Project
    events: BuildEvents
    sources: ImageSources
    store: ImageStore
    paddle_reference: str
    paddle: ImageInfo
    probe: ImageProbe
    rebuild: bool
    common_args: dict[str, str] = field(default_factory=dict)

    @property
    def paddle_digest(self) -> str | None:
        pinned = PinnedImage.parse(self.paddle_reference)
        return pinned.digest if pinned.repository and pinned.digest else digest_of(self.paddle, pinned.repository)

    @property
    def paddle_version(self) -> str:
        return self.probe.paddle_version or self.paddle.labels.get("io.paddlectl.paddle-version") or "unknown"


def build_images(
    connect: Callable[[], ContainerEngine], project: Project, request: BuildRequest, events: BuildEvents
) -> list[BuildResult]:
    """Build (or reuse) the requested image and the layers it stands on: dev builds the base first.

    Checks the request before connecting to the engine. Raises UsageError for an unpinned --paddle-image or an
    unusable package, UnavailableError for a missing image or wheel, PaddlectlError (naming the step) for a
    failed build.
    """
    _check_request(request)
    sources = image_sources()
    reference = request.paddle_image or project.config.image_for(project.config.gpus)
    PinnedImage.parse(reference)  # refuses latest, floating and untagged references before anything runs
    engine = connect()
    _, paddle = resolve_image(engine, reference, pull=False)
    events.status(f"probing {reference} for its Python and platform")
    plan = _Plan(
        engine=engine,
        project=project,
        events=events,
        sources=sources,
        store=ImageStore(project.store),
        paddle_reference=reference,
        paddle=paddle,
        probe=probe_image(engine, paddle.id, project.config.name),
        rebuild=request.rebuild,
        common_args=_common_args(project.root),
    )
    if request.role is ImageRole.PROD:
        assert request.package is not None
        return [_build_prod(plan, request.package, request.key)]
    base = _build_base(plan)
    if request.role is ImageRole.BASE:
        return [base]
    return [base, _build_dev(plan, base.image)]


def _check_request(request: BuildRequest) -> None:
    """Raises UsageError when a prod build has no package (or one that is not there), or another role has one."""
    if request.role is ImageRole.PROD and request.package is None:
        raise UsageError(
            "a prod image serves one package: pass --package NAME-X.Y.Z.tar",
            hint="make one with: paddlectl package EXPORT_DIR --name NAME --version X.Y.Z",
        )
    if request.role is not ImageRole.PROD and (request.package is not None or request.key is not None):
        raise UsageError("--package and --key are for prod images", hint="drop them, or build prod")
    if request.package is not None and not request.package.is_file():
        raise UsageError(
            f"--package {request.package}: no such file", hint="pass the NAME-X.Y.Z.tar that paddlectl package wrote"
        )


# ---------------------------------------------------------------- the three images


@dataclass(frozen=True)
class _ImageSpec:
    """One image to build or reuse: its inputs (hashed into its tag) and what its build needs."""

    role: ImageRole
    version: str  # the tag's version part
    inputs: dict[str, Any]
    parent: str  # the image it is built on
    buildargs: dict[str, str]
    lock: LockFile | None = None  # the locked wheels it installs
    files: dict[str, Path] = field(default_factory=dict)  # more files for the build context, by name there
    extra: dict[str, Any] = field(default_factory=dict)  # recorded with the image


def _paddle_args(plan: _Plan) -> dict[str, str]:
    """The build arguments of an image built directly on the Paddle image (base, prod)."""
    return {
        **plan.common_args,
        "PADDLE_IMAGE": plan.paddle_reference,
        "PADDLE_IMAGE_ID": plan.paddle.id,
        "PADDLE_IMAGE_DIGEST": plan.paddle_digest or "",
        "PADDLE_VERSION": plan.paddle_version,
    }


def _build_base(plan: _Plan) -> BuildResult:
    lock = load_lock(plan.sources.lock(ImageRole.BASE))
    inputs = {
        "role": ImageRole.BASE.value,
        "dockerfile_sha256": sha256_file(plan.sources.dockerfile(ImageRole.BASE)),
        "lock_sha256": lock.sha256,
        "parent": {"id": plan.paddle.id, "digest": plan.paddle_digest},
        "python": plan.probe.python,
        "platform": plan.probe.target.platform_tag,
    }
    spec = _ImageSpec(ImageRole.BASE, plan.paddle_version, inputs, plan.paddle_reference, _paddle_args(plan), lock)
    return _build_or_reuse(plan, spec)


def _build_dev(plan: _Plan, base: BuiltImage) -> BuildResult:
    lock = load_lock(plan.sources.lock(ImageRole.DEV))
    inputs = {
        "role": ImageRole.DEV.value,
        "dockerfile_sha256": sha256_file(plan.sources.dockerfile(ImageRole.DEV)),
        "lock_sha256": lock.sha256,
        "parent": {"id": base.id, "digest": base.digest},
        "python": plan.probe.python,
        "platform": plan.probe.target.platform_tag,
    }
    args = {**plan.common_args, "BASE_IMAGE": base.tag, "BASE_IMAGE_ID": base.id, "PADDLE_VERSION": plan.paddle_version}
    return _build_or_reuse(plan, _ImageSpec(ImageRole.DEV, plan.paddle_version, inputs, base.tag, args, lock))


def _build_prod(plan: _Plan, package: Path, key: Path | None) -> BuildResult:
    from paddlectl.packaging import verify_package

    plan.events.status(f"verifying {package.name}")
    report = verify_package(package, key)
    report.raise_for_problems()
    card = report.card or {}
    _check_runtime(card, plan.probe.paddle_version, plan.paddle_reference)
    return _build_or_reuse(plan, _prod_spec(plan, package, report.sha256, card))


def _prod_spec(plan: _Plan, package: Path, package_sha256: str, card: dict[str, Any]) -> _ImageSpec:
    """The prod image of a verified package: named after the package, its files and checksums among its inputs."""
    name, version = str(card.get("name") or package.stem), str(card.get("version") or "0.0.0")
    inputs = {
        "role": ImageRole.PROD.value,
        "dockerfile_sha256": sha256_file(plan.sources.dockerfile(ImageRole.PROD)),
        "serve_sha256": sha256_file(SERVE_SCRIPT),
        "verify_sha256": sha256_file(VERIFY_SCRIPT),
        "parent": {"id": plan.paddle.id, "digest": plan.paddle_digest},
        "package": {
            "sha256": package_sha256,
            "name": name,
            "version": version,
            "format": card.get("format"),
            "paddle_version": card.get("paddle_version"),
        },
    }
    args = {**_paddle_args(plan), "PACKAGE_NAME": name, "PACKAGE_VERSION": version, "PACKAGE_SHA256": package_sha256}
    return _ImageSpec(
        ImageRole.PROD,
        f"{name}-{version}",
        inputs,
        plan.paddle_reference,
        args,
        files={"model.tar": package.resolve(), "serve.py": SERVE_SCRIPT, "verify_package.py": VERIFY_SCRIPT},
        extra={"package_path": str(package.resolve())},
    )


def _version_tuple(text: object) -> tuple[int, ...] | None:
    parts = []
    for piece in str(text or "").split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            return None
        parts.append(int(digits))
    return tuple(parts) if len(parts) == 2 else None


def _check_runtime(card: dict[str, Any], runtime: str | None, image: str) -> None:
    """Refuse a package exported by a newer Paddle than the image's: older inference cannot load it (or crashes)."""
    exported, available = _version_tuple(card.get("paddle_version")), _version_tuple(runtime)
    if exported is None or available is None:
        return
    if available < exported or (card.get("format") == "pir-json" and available < (3, 0)):
        raise UsageError(
            f"the package was exported with Paddle {card.get('paddle_version')} ({card.get('format')}); "
            f"{image} has Paddle {runtime}, which cannot load it",
            hint=f"pass --paddle-image with Paddle {card.get('paddle_version')} or newer",
        )


# ---------------------------------------------------------------- build or reuse


def _build_or_reuse(plan: _Plan, spec: _ImageSpec) -> BuildResult:
    started = time.monotonic()
    digest = inputs_hash(spec.inputs)
    tag = image_tag(plan.project.config.name, spec.role, spec.version, digest)
    existing = plan.engine.image(tag)
    if existing is not None and existing.labels.get(LABEL_INPUTS) == digest and not plan.rebuild:
        record = _reused(plan, spec, tag, existing, digest)
        _save(plan, record)
        return BuildResult(record, reused=True, seconds=round(time.monotonic() - started, 2))
    with _context() as context:
        wheelhouse = _fill_context(plan, spec, context)
        plan.events.status(f"{spec.role.value}: building {tag}")
        labels = {LABEL_PROJECT: plan.project.config.name, LABEL_ROLE: spec.role.value, LABEL_INPUTS: digest}
        stage_args = {  # label every stage: gc finds this store's leftovers, never a namesake project's
            **spec.buildargs,
            "PADDLECTL_PROJECT": plan.project.config.name,
            "PADDLECTL_STORE": store_value(plan.project.store),
        }
        # While the lock is held, `runs gc` leaves this project's untagged stages alone: the build stands on them.
        with held_lock(plan.project.store / BUILD_LOCK_NAME):
            info = plan.engine.build(context, spec.role.dockerfile, tag, stage_args, labels, plan.events.output)
    seconds = round(time.monotonic() - started, 2)
    record = _record(spec, tag, info, digest, built_at=_now(), seconds=seconds)
    _save(plan, record)
    return BuildResult(record, reused=False, seconds=seconds, wheelhouse=wheelhouse)


def _reused(plan: _Plan, spec: _ImageSpec, tag: str, existing: ImageInfo, digest: str) -> BuiltImage:
    """The record of an image already built from the same inputs; its first build's time when it was recorded."""
    plan.events.status(f"{spec.role.value}: {tag} is up to date (same inputs), reusing it")
    earlier = next((image for image in plan.store.load().images if image.tag == tag and image.id == existing.id), None)
    return _record(
        spec,
        tag,
        existing,
        digest,
        built_at=earlier.built_at if earlier else _created(existing),
        seconds=earlier.build_seconds if earlier else None,
    )


def _fill_context(plan: _Plan, spec: _ImageSpec, context: Path) -> str | None:
    """Put the Dockerfile, the lock and its wheels, and the spec's files in `context`; the wheelhouse's folder."""
    shutil.copyfile(plan.sources.dockerfile(spec.role), context / spec.role.dockerfile)
    (context / "wheels").mkdir()
    wheelhouse = None
    if spec.lock is not None:
        target = plan.probe.target
        plan.events.status(f"{spec.role.value}: wheels for Python {target.python} on {target.platform_tag}")
        house = ensure_wheelhouse(spec.lock, target)
        wheelhouse = str(house.path)
        plan.events.status(
            f"{spec.role.value}: {len(house.files)} wheels "
            f"{'downloaded into' if house.downloaded else 'reused from'} {house.path}"
        )
        shutil.copyfile(spec.lock.path, context / spec.lock.path.name)
        for name in house.files:
            _place(house.path / name, context / "wheels" / name)
    for name, source in spec.files.items():
        _place(source, context / name)
    return wheelhouse


def _record(
    spec: _ImageSpec, tag: str, info: ImageInfo, digest: str, *, built_at: str, seconds: float | None
) -> BuiltImage:
    return BuiltImage(
        role=spec.role.value,
        tag=tag,
        id=info.id,
        digest=digest_of(info, ImageRef.split(tag).repository),
        size=info.size,
        inputs=spec.inputs,
        inputs_hash=digest,
        built_at=built_at,
        build_seconds=seconds,
        parent=spec.parent,
        extra=dict(spec.extra),
    )


def _save(plan: _Plan, record: BuiltImage) -> None:
    for warning in plan.store.record(record):
        plan.events.status(f"warning: {warning}")


@contextlib.contextmanager
def _context() -> Iterator[Path]:
    """A private build-context folder next to the wheel cache (so wheels can be hard links), removed afterwards."""
    parent = cache_root() / "contexts"
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="build-", dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _place(source: Path, target: Path) -> None:
    """A hard link when the file system allows one (a package can be gigabytes), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _now() -> str:
    return clock.utc_now("seconds")


def _created(info: ImageInfo) -> str:
    created = clock.parse_utc(info.created)
    return clock.format_utc(created, "seconds") if created is not None else _now()


def _common_args(root: Path) -> dict[str, str]:
    """OCI label values every image gets: where its project's code lives, its commit, and when it was built."""
    revision = git_line(root, "rev-parse", "HEAD") or ""
    source = strip_url_credentials(git_line(root, "config", "--get", "remote.origin.url") or "")
    return {
        "SOURCE": source,
        "REVISION": revision if len(revision) == 40 else "",
        "CREATED": _now(),
        "PADDLECTL_VERSION": __version__,
    }
