"""paddlectl image build on a fake engine: contexts, build args, reuse by content tag, refusals, and images.yaml."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from fakes import FakeEngine, image_info
from paddlectl.engine.protocol import ImageInfo
from paddlectl.errors import ExitCode, UnavailableError, UsageError
from paddlectl.foundation.yamlio import dump_yaml, load_yaml
from paddlectl.images import build as imagebuild
from paddlectl.images.build import BuildRequest, build_images
from paddlectl.images.records import BuiltImage, ImageStore, list_images
from paddlectl.images.tags import ImageRole
from paddlectl.images.wheelhouse import TargetPlatform, Wheelhouse
from paddlectl.packaging import PackageRequest, TamperedError, build_package
from paddlectl.project.workspace import open_project
from unit.packaging.test_packaging_fakes import make_export

REPO_ROOT = Path(__file__).resolve().parents[3]
PADDLE = "paddlectl-test/paddle:3.2.0-cpu"
PADDLE_ID = "sha256:" + "57" * 32
PROBE = {
    "python": "3.11",
    "machine": "x86_64",
    "libc": "glibc",
    "libc_version": "2.36",
    "paddle_version": "3.2.0",
    "executable": "/usr/bin/python3",
}


class Events:
    def __init__(self) -> None:
        self.statuses: list[str] = []
        self.lines: list[str] = []

    def status(self, message: str) -> None:
        self.statuses.append(message)

    def output(self, line: str) -> None:
        self.lines.append(line)


@pytest.fixture
def engine() -> FakeEngine:
    fake = FakeEngine(images={PADDLE: image_info(PADDLE, PADDLE_ID)})
    fake.script = [b"noise\n", ("PADDLECTL_PLATFORM " + json.dumps(PROBE) + "\n").encode()]
    return fake


@pytest.fixture
def project_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "paddlectl.yaml").write_text(dump_yaml({"project": "Digits", "images": {"cpu": PADDLE}}))
    monkeypatch.setenv("PADDLECTL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PADDLECTL_IMAGES_DIR", raising=False)
    return root


@pytest.fixture
def wheelhouses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[TargetPlatform]:
    """Replaces the pip download with a folder holding one fake wheel; records each target asked for."""
    asked: list[TargetPlatform] = []

    def fake(lock: Any, target: TargetPlatform, root: Path | None = None) -> Wheelhouse:
        asked.append(target)
        folder = tmp_path / "cache" / "wheels" / target.cache_key(lock)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{lock.path.stem}-1.0-py3-none-any.whl").write_bytes(b"wheel")
        return Wheelhouse(folder, target.cache_key(lock), (f"{lock.path.stem}-1.0-py3-none-any.whl",), True)

    monkeypatch.setattr(imagebuild, "ensure_wheelhouse", fake)
    return asked


def build(engine: FakeEngine, root: Path, role: ImageRole, **options: Any) -> list[imagebuild.BuildResult]:
    request = BuildRequest(role=role, paddle_image=options.pop("paddle_image", PADDLE), **options)
    return build_images(lambda: engine, open_project(root), request, Events())


def test_base_build_context_args_labels_and_record(
    engine: FakeEngine, project_root: Path, wheelhouses: list[TargetPlatform]
) -> None:
    [result] = build(engine, project_root, ImageRole.BASE)
    image = result.image
    assert not result.reused
    assert image.tag == f"digits/paddle-base:3.2.0-{image.inputs_hash[:12]}"
    assert wheelhouses == [TargetPlatform("3.11", "x86_64", (2, 36))]  # read from the image, not the host
    [done] = engine.builds
    assert done["dockerfile"] == "Dockerfile.base" and done["tag"] == image.tag
    assert done["files"] == [
        "Dockerfile.base",
        "requirements-base.lock",
        "wheels/requirements-base-1.0-py3-none-any.whl",
    ]
    args = done["buildargs"]
    assert (args["PADDLE_IMAGE"], args["PADDLE_IMAGE_ID"], args["PADDLE_VERSION"]) == (PADDLE, PADDLE_ID, "3.2.0")
    assert args["CREATED"].endswith("Z") and "SOURCE" in args and "REVISION" in args
    assert done["labels"] == {
        "io.paddlectl.project": "Digits",
        "io.paddlectl.role": "base",
        "io.paddlectl.inputs-hash": image.inputs_hash,
    }
    assert image.inputs["parent"] == {"id": PADDLE_ID, "digest": None}
    assert image.inputs["python"] == "3.11" and image.inputs["platform"] == "manylinux_2_36_x86_64"
    assert image.parent == PADDLE and image.digest is None and image.size == 1000
    [stored] = ImageStore(project_root / ".paddlectl").load().images
    assert stored == image
    assert all(container.removed for container in engine.created), "the probe container is removed"
    assert engine.created[0].spec.network_mode == "none"
    assert list((project_root.parent / "cache" / "contexts").iterdir()) == [], "the build context is removed"


def test_unchanged_inputs_reuse_the_tag_and_rebuild_forces(
    engine: FakeEngine, project_root: Path, wheelhouses: list[TargetPlatform]
) -> None:
    [first] = build(engine, project_root, ImageRole.BASE)
    [again] = build(engine, project_root, ImageRole.BASE)
    assert again.reused and len(engine.builds) == 1
    assert (again.image.tag, again.image.id, again.image.built_at) == (
        first.image.tag,
        first.image.id,
        first.image.built_at,
    )
    [forced] = build(engine, project_root, ImageRole.BASE, rebuild=True)
    assert not forced.reused and len(engine.builds) == 2 and forced.image.tag == first.image.tag
    assert len(ImageStore(project_root / ".paddlectl").load().images) == 1, "one record per tag"


def test_a_tag_whose_label_does_not_match_is_rebuilt(
    engine: FakeEngine, project_root: Path, wheelhouses: list[TargetPlatform]
) -> None:
    [first] = build(engine, project_root, ImageRole.BASE)
    engine.images[first.image.tag] = image_info(first.image.tag, "sha256:" + "99" * 32)  # same name, other bytes
    [second] = build(engine, project_root, ImageRole.BASE)
    assert not second.reused and len(engine.builds) == 2


def test_changed_inputs_give_a_new_tag(
    engine: FakeEngine,
    project_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    wheelhouses: list[TargetPlatform],
) -> None:
    [first] = build(engine, project_root, ImageRole.BASE)
    sources = tmp_path / "sources"
    (sources / "images").mkdir(parents=True)
    for name in ("Dockerfile.base", "Dockerfile.dev", "Dockerfile.prod"):
        shutil.copy(REPO_ROOT / name, sources / name)
    shutil.copy(REPO_ROOT / "images" / "requirements-base.lock", sources / "images")
    monkeypatch.setenv("PADDLECTL_IMAGES_DIR", str(sources))
    [same] = build(engine, project_root, ImageRole.BASE)
    assert same.reused and same.image.tag == first.image.tag, "the same bytes from another folder: same tag"
    with (sources / "Dockerfile.base").open("a") as handle:
        handle.write("# a change\n")
    [changed] = build(engine, project_root, ImageRole.BASE)
    assert not changed.reused and changed.image.tag != first.image.tag
    other = image_info(PADDLE, "sha256:" + "58" * 32)
    engine.images[PADDLE] = other  # the Paddle tag now names other bytes
    [moved] = build(engine, project_root, ImageRole.BASE)
    assert moved.image.tag not in (first.image.tag, changed.image.tag)
    assert moved.image.inputs["parent"]["id"] == other.id


def test_dev_builds_on_the_base_tag(engine: FakeEngine, project_root: Path, wheelhouses: list[TargetPlatform]) -> None:
    base, dev = build(engine, project_root, ImageRole.DEV)
    assert [b["dockerfile"] for b in engine.builds] == ["Dockerfile.base", "Dockerfile.dev"]
    args = engine.builds[1]["buildargs"]
    assert args["BASE_IMAGE"] == base.image.tag and args["BASE_IMAGE_ID"] == base.image.id
    assert "requirements-dev.lock" in engine.builds[1]["files"]
    assert dev.image.tag.startswith("digits/paddle-dev:3.2.0-") and dev.image.parent == base.image.tag
    assert dev.image.inputs["parent"]["id"] == base.image.id
    base2, dev2 = build(engine, project_root, ImageRole.DEV)
    assert base2.reused and dev2.reused and len(engine.builds) == 2


@pytest.mark.parametrize(
    "reference",
    [
        "paddlepaddle/paddle",
        "paddlepaddle/paddle:latest",
        "paddlepaddle/paddle:latest-gpu",
        "paddlepaddle/paddle:cuda126-dev",
    ],
)
def test_unpinned_paddle_images_are_refused_before_the_engine(project_root: Path, reference: str) -> None:
    def connect() -> FakeEngine:
        raise AssertionError("must refuse before connecting")

    with pytest.raises(UsageError) as caught:
        build_images(
            connect, open_project(project_root), BuildRequest(ImageRole.BASE, paddle_image=reference), Events()
        )
    assert caught.value.code == ExitCode.USAGE and caught.value.hint


def test_a_missing_paddle_image_is_unavailable(engine: FakeEngine, project_root: Path) -> None:
    with pytest.raises(UnavailableError, match="not present locally"):
        build(engine, project_root, ImageRole.BASE, paddle_image="paddlepaddle/paddle:3.2.0")
    assert engine.builds == [] and engine.created == []


@pytest.mark.parametrize("by_digest", [False, True])
def test_the_registry_digest_is_an_input_and_a_label(
    engine: FakeEngine, project_root: Path, wheelhouses: list[TargetPlatform], by_digest: bool
) -> None:
    digest = "sha256:" + "d1" * 32
    official = "registry:5000/paddlepaddle/paddle"
    reference = f"{official}@{digest}" if by_digest else f"{official}:3.2.0"
    engine.images[reference] = image_info(reference, PADDLE_ID, digests=(f"{official}@{digest}",))
    [result] = build(engine, project_root, ImageRole.BASE, paddle_image=reference)
    assert result.image.inputs["parent"] == {"id": PADDLE_ID, "digest": digest}
    assert engine.builds[0]["buildargs"]["PADDLE_IMAGE_DIGEST"] == digest
    assert engine.builds[0]["buildargs"]["PADDLE_IMAGE"] == reference


def test_the_project_image_is_the_default(
    engine: FakeEngine, project_root: Path, wheelhouses: list[TargetPlatform]
) -> None:
    request = BuildRequest(role=ImageRole.BASE)
    [result] = build_images(lambda: engine, open_project(project_root), request, Events())
    assert result.image.parent == PADDLE


def make_package(tmp_path: Path, **record: Any) -> Path:
    export = make_export(tmp_path / "exp", record_overrides=record or None)
    request = PackageRequest(export_dir=export, name="digits", version="1.0.0", output_dir=tmp_path / "pkg")
    return build_package(request).path


def test_prod_context_args_and_tag(engine: FakeEngine, project_root: Path, tmp_path: Path) -> None:
    package = make_package(tmp_path)
    [result] = build(engine, project_root, ImageRole.PROD, package=package)
    [done] = engine.builds
    assert done["files"] == ["Dockerfile.prod", "model.tar", "serve.py", "verify_package.py"]
    args = done["buildargs"]
    sha = hashlib.sha256(package.read_bytes()).hexdigest()
    assert (args["PACKAGE_NAME"], args["PACKAGE_VERSION"], args["PACKAGE_SHA256"]) == ("digits", "1.0.0", sha)
    assert args["PADDLE_IMAGE"] == PADDLE and "BASE_IMAGE" not in args, "prod stands on the Paddle image itself"
    assert result.image.tag == f"digits/paddle-prod:digits-1.0.0-{result.image.inputs_hash[:12]}"
    assert result.image.inputs["package"]["sha256"] == sha
    assert result.image.extra == {"package_path": str(package.resolve())}
    [again] = build(engine, project_root, ImageRole.PROD, package=package)
    assert again.reused and len(engine.builds) == 1


def test_prod_refuses_a_tampered_package_before_building(
    engine: FakeEngine, project_root: Path, tmp_path: Path
) -> None:
    package = make_package(tmp_path)
    data = bytearray(package.read_bytes())
    data[3000] ^= 1
    package.write_bytes(bytes(data))
    with pytest.raises(TamperedError):
        build(engine, project_root, ImageRole.PROD, package=package)
    assert engine.builds == []


def test_prod_refuses_a_package_from_a_newer_paddle(engine: FakeEngine, project_root: Path, tmp_path: Path) -> None:
    package = make_package(tmp_path, paddle_version="3.3.0")
    with pytest.raises(UsageError, match=r"exported with Paddle 3\.3\.0.*has Paddle 3\.2\.0"):
        build(engine, project_root, ImageRole.PROD, package=package)
    assert engine.builds == []


@pytest.mark.parametrize(
    ("role", "options", "says"),
    [
        (ImageRole.PROD, {}, "serves one package"),
        (ImageRole.BASE, {"package": Path("m.tar")}, "are for prod images"),
        (ImageRole.PROD, {"package": Path("missing.tar")}, "no such file"),
    ],
)
def test_package_options_are_checked(
    engine: FakeEngine, project_root: Path, role: ImageRole, options: dict[str, Any], says: str
) -> None:
    with pytest.raises(UsageError, match=says):
        build(engine, project_root, role, **options)


# ---------------------------------------------------------------- images.yaml


def record(tag: str, built_at: str = "2026-11-22T10:00:00Z", image_id: str = "sha256:" + "1" * 64) -> BuiltImage:
    return BuiltImage(
        role="base",
        tag=tag,
        id=image_id,
        digest=None,
        size=123,
        inputs={"python": "3.11"},
        inputs_hash="f" * 64,
        built_at=built_at,
        build_seconds=1.5,
        parent=PADDLE,
    )


def test_images_yaml_round_trip_and_replace_by_tag(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    one, two = record("p/paddle-base:1-a"), record("p/paddle-base:1-b", "2026-11-22T11:00:00Z")
    store.record(one)
    store.record(two)
    assert store.load().images == [one, two]
    replaced = record("p/paddle-base:1-a", "2026-11-22T12:00:00Z", "sha256:" + "2" * 64)
    store.record(replaced)
    assert store.load().images == [two, replaced]
    document = load_yaml((tmp_path / "images.yaml").read_text(), "images.yaml")
    assert document["schema_version"] == 1
    assert set(document["images"][0]) >= {"id", "digest", "size", "inputs", "tag", "built_at"}
    assert store.latest("base") == replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images.yaml", "images.yaml.lock"], "no temp files"


def test_unknown_keys_survive_a_rewrite(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    newer = {**record("p/x:1-a").as_dict(), "signed_by": "ci"}
    (tmp_path / "images.yaml").write_text(dump_yaml({"schema_version": 2, "images": [newer]}))
    store.record(record("p/x:1-b"))
    kept = load_yaml((tmp_path / "images.yaml").read_text(), "images.yaml")["images"][0]
    assert kept["signed_by"] == "ci"


@pytest.mark.parametrize(
    "text", ["{unclosed", "images: 3\n", "- a\n", "images: [!!python/object/apply:os.system [echo]]\n"]
)
def test_unreadable_images_yaml_is_a_warning(tmp_path: Path, text: str) -> None:
    (tmp_path / "images.yaml").write_text(text)
    listing = ImageStore(tmp_path).load()
    assert listing.images == [] and len(listing.warnings) == 1


def test_a_bad_entry_is_skipped_with_a_warning(tmp_path: Path) -> None:
    good = record("p/x:1-a").as_dict()
    (tmp_path / "images.yaml").write_text(dump_yaml({"images": [good, {"tag": 3}, "text"]}))
    listing = ImageStore(tmp_path).load()
    assert [image.tag for image in listing.images] == ["p/x:1-a"]
    assert [w.split(":")[1].strip()[:7] for w in listing.warnings] == ["entry 2", "entry 3"]


def test_listing_says_whether_each_image_is_present(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    present, moved = record("p/a:1-a", "2026-01-03"), record("p/b:1-b", "2026-01-02")
    gone = record("p/c:1-c", "2026-01-01")
    for entry in (present, moved, gone):
        store.record(entry)
    engine = FakeEngine(
        images={
            present.tag: image_info(present.tag, present.id),
            moved.tag: image_info(moved.tag, "sha256:" + "9" * 64),
        }
    )
    rows, warnings = list_images(store, engine)
    assert [(row.image.tag, row.state, row.present) for row in rows] == [
        (present.tag, "present", True),
        (moved.tag, "moved", False),
        (gone.tag, "missing", False),
    ]
    assert rows[1].as_dict()["current_id"] == "sha256:" + "9" * 64 and warnings == []
    unchecked, _ = list_images(store, None)
    assert {row.state for row in unchecked} == {"unknown"}


def test_image_info_from_fake_build_carries_labels() -> None:
    engine = FakeEngine()
    info = engine.build(Path("/nonexistent"), "Dockerfile.base", "p/x:1", {}, {"a": "b"})
    assert isinstance(info, ImageInfo) and engine.image("p/x:1") == info and info.labels == {"a": "b"}


# ---------------------------------------------------------------- the commands (no engine needed for refusals)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["base", "--paddle-image", "paddlepaddle/paddle:latest"], "floats"),
        (["base", "--paddle-image", "paddlepaddle/paddle"], "no tag"),
        (["prod"], "serves one package"),
        (["dev", "--package", "m.tar"], "are for prod images"),
    ],
)
def test_build_refusals_are_one_line_with_exit_2(project_root: Path, args: list[str], says: str) -> None:
    from conftest import run_cli

    json_mode = args[0] == "base"
    result = run_cli(
        "image",
        "build",
        *args,
        *(["--json"] if json_mode else []),
        cwd=project_root,
        env={"DOCKER_HOST": "unix:///nonexistent.sock"},
    )  # refused before any engine is asked
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and says in errors[0]
    assert (json.loads(result.stdout)["exit_code"] == 2) if json_mode else result.stdout == ""


def test_image_ls_without_an_engine_lists_records_as_unknown(project_root: Path) -> None:
    from conftest import run_cli

    ImageStore(project_root / ".paddlectl").record(record("digits/paddle-base:3.2.0-aaaaaaaaaaaa"))
    result = run_cli("image", "ls", "--json", cwd=project_root, env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert [(row["tag"], row["state"]) for row in document["images"]] == [
        ("digits/paddle-base:3.2.0-aaaaaaaaaaaa", "unknown")
    ]
    assert "cannot reach the Docker engine" in document["warnings"][0]
    table = run_cli("image", "ls", cwd=project_root, env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert "digits/paddle-base:3.2.0-aaaaaaaaaaaa" in table.stdout and "unknown" in table.stdout
