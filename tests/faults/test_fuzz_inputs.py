"""Property-based fuzzing of everything paddlectl parses from users: a PaddlectlError or the documented result.

Each target gets a few hundred generated inputs (hypothesis; no example database, no deadline): random text, and
text built from the tokens that reach deep into each parser (YAML tags, dates, brackets, digests, separators). The
only exception allowed out is PaddlectlError; a `!!python/...` payload never runs. Counts of inputs tried are
printed at the end of the module (run with -s to see them).
"""

from __future__ import annotations

import atexit
import functools
import io
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paddlectl.engine.gpus import GpuRequest, parse_gpus
from paddlectl.engine.protocol import Mount
from paddlectl.errors import PaddlectlError
from paddlectl.export.spec import DTYPES, parse_input_option
from paddlectl.foundation.image_ref import PinnedImage
from paddlectl.foundation.yamlio import dump_yaml, load_yaml
from paddlectl.project.config import ProjectConfig, load_config, parse_config
from paddlectl.runs.index import summarize
from paddlectl.runs.manifest import Manifest, RunStatus
from paddlectl.runs.query import Condition, parse_condition
from paddlectl.runs.store import RunPaths, RunStore
from paddlectl.train.params import KEY_PATTERN, load_params_file, parse_assignment, parse_key_value
from paddlectl.train.request import check_size, parse_mount

MANY = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
FEWER = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
CLI_RUNS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

TRIED: Counter[str] = Counter()


def _temporary_folder(prefix: str) -> Path:
    """A folder removed when the test process exits (module-level: hypothesis cannot take function fixtures)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, folder, True)
    return folder


SENTINEL_DIR = _temporary_folder("pdctl-fuzz-")
SENTINEL = SENTINEL_DIR / "pwned"
PAYLOADS = (
    f"!!python/object/apply:os.system ['touch {SENTINEL}']",
    f"!!python/object/apply:subprocess.call [['touch', '{SENTINEL}']]",
    f"!!python/object/new:os.system ['touch {SENTINEL}']",
    "!!python/name:os.system",
    "!!python/module:os",
)

# argv can carry neither NUL nor lone surrogates that did not come from bytes; everything else is fair game.
ARGV_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
argv_text = st.text(ARGV_CHARS, max_size=60)

YAML_TOKENS = (
    "2020-13-45",
    "2026-11-22T10:30:00Z",
    "!!int x",
    "!!float x",
    "!!timestamp x",
    "!!binary x",
    "!!set {a: 1}",
    "!!omap [a]",
    "!!str",
    "!!bool maybe",
    "!!null",
    *PAYLOADS,
    "&a",
    "*a",
    "&a [*a]",
    ".inf",
    "-.inf",
    ".nan",
    "0x1f",
    "0o17",
    "1e-3",
    "1e400",
    "-1",
    "~",
    "null",
    "007",
    "1:30",
    "yes",
    "no",
    "'",
    '"',
    '"\\x"',
    "'it''s'",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    ": ",
    "- ",
    "? ",
    "#",
    "|",
    ">",
    "%YAML 1.1",
    "---",
    "...",
    "@",
    "`",
    "\t",
    "\n",
    "  ",
    "=",
    "key",
    "lr",
    "x",
    "0",
    "1",
    "-1",
    "3.2.0",
    "\u00e9",
    "\ufeff",
    "\x85",
    "\u2028",
)
yaml_soup = st.lists(st.one_of(st.sampled_from(YAML_TOKENS), st.text(ARGV_CHARS, max_size=6)), max_size=14).map("".join)


def _count(target: str) -> None:
    TRIED[target] += 1


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> Iterator[None]:
    yield
    width = max((len(name) for name in TRIED), default=0)
    print("\nfuzz inputs tried:")
    for name, count in sorted(TRIED.items()):
        print(f"  {name:<{width}}  {count}")
    print(f"  {'total':<{width}}  {sum(TRIED.values())}")
    assert not SENTINEL.exists(), "a python/object payload ran"


def _expect_clean(call: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a parser; a PaddlectlError comes back as None, anything else it raises fails the test."""
    try:
        return call(*args, **kwargs)
    except PaddlectlError as error:
        assert error.message, "an error without a message"
        echoes_breaks = any(isinstance(arg, str) and len(f"x{arg}x".splitlines()) > 1 for arg in args)
        if not echoes_breaks:  # messages quote the input: a line break typed in may show, none may be added
            assert len(error.message.splitlines()) == 1, f"not a one-line message: {error.message!r}"
        return None


# -- command-line options -------------------------------------------------------------------------------------------

param_key = st.one_of(st.from_regex(KEY_PATTERN, fullmatch=True).map(lambda key: key[:20]), argv_text)
assignments = st.one_of(
    argv_text, st.builds(lambda key, value: f"{key}={value}", param_key, st.one_of(yaml_soup, argv_text))
)


@MANY
@given(assignments)
def test_param_assignments(text: str) -> None:
    _count("-p key=value")
    parsed = _expect_clean(parse_assignment, text)
    if parsed is not None:
        key, value = parsed
        assert KEY_PATTERN.fullmatch(key)
        assert value is None or isinstance(value, str | int | float | bool), type(value)


@MANY
@given(
    st.one_of(argv_text, st.builds(lambda key, value: f"{key}={value}", param_key, argv_text)),
    st.sampled_from(["--label", "--env", "-e"]),
)
def test_labels_and_env(text: str, option: str) -> None:
    _count("--label/--env")
    parsed = _expect_clean(parse_key_value, text, option, environ={"HOME": "/home/u"})
    if parsed is not None:
        assert all(isinstance(part, str) for part in parsed)


INPUT_TOKENS = (
    "x",
    "img_0",
    "1x",
    "",
    ":",
    ",",
    "-1",
    "?",
    "0",
    "-2",
    "3",
    "224",
    "1e3",
    " ",
    "float32",
    "int64",
    "bfloat16",
    "uint8",
    "float",
    "9" * 30,
    "\u0661",
)
input_options = st.one_of(argv_text, st.lists(st.sampled_from(INPUT_TOKENS), max_size=9).map("".join))


@MANY
@given(input_options)
def test_export_input_option(text: str) -> None:
    _count("--input name:dtype:shape")
    spec = _expect_clean(parse_input_option, text)
    if spec is not None:
        assert spec.dtype in DTYPES and spec.shape
        assert all(dim == -1 or dim >= 1 for dim in spec.shape)


CONDITION_TOKENS = (
    "acc",
    "loss",
    "params.lr",
    "status",
    ">=",
    "<=",
    ">",
    "<",
    "==",
    "!=",
    "=",
    "!",
    "0.9",
    "-1",
    "nan",
    "inf",
    "1e400",
    "'adam'",
    '"',
    " ",
    "0x10",
    "\u00e9",
)
ROWS = (
    {
        "id": "r1",
        "status": "succeeded",
        "metrics": {"acc": 0.93, "loss": float("nan")},
        "params": {"lr": 0.01, "optimizer": "adam"},
    },
    {"id": "r2", "status": "bad", "metrics": {}, "params": {}},
    {"id": "r3"},
)


@MANY
@given(st.one_of(argv_text, st.lists(st.sampled_from(CONDITION_TOKENS), max_size=6).map("".join)))
def test_where_conditions(text: str) -> None:
    _count("--where condition")
    condition = _expect_clean(parse_condition, text)
    if condition is not None:
        assert isinstance(condition, Condition)
        for row in ROWS:
            assert isinstance(condition.test(row), bool)


@MANY
@given(
    st.one_of(
        argv_text,
        st.lists(st.sampled_from(("0", "1", "12", ",", " ", "all", "none", "-1", "a")), max_size=6).map("".join),
    )
)
def test_gpus(text: str) -> None:
    _count("--gpus")
    try:
        request = parse_gpus(text)
    except PaddlectlError:
        return
    assert request is None or isinstance(request, GpuRequest)


SIZE_TOKENS = ("0", "1", "512", "2", "m", "g", "k", "b", "gb", "M", ".", "5", " ", "-", "1e3", "\u0662")


@MANY
@given(st.one_of(argv_text, st.lists(st.sampled_from(SIZE_TOKENS), max_size=5).map("".join)))
def test_sizes(text: str) -> None:
    _count("--shm-size/--memory")
    size = _expect_clean(check_size, text, "--shm-size")
    if size is not None:
        assert size == size.strip().lower() and size


@pytest.fixture(scope="module")
def mount_base() -> Path:
    base = _temporary_folder("pdctl-fuzz-mount-")
    (base / "data").mkdir()
    return base


MOUNT_TOKENS = (
    "data",
    "./data",
    "../",
    "~",
    "missing",
    "/",
    "/data",
    "/workspace",
    "/paddlectl",
    ":",
    "ro",
    "rw",
    "x",
    "..",
    "//",
    " ",
    "\u00e9",
)


@MANY
@given(st.one_of(argv_text, st.lists(st.sampled_from(MOUNT_TOKENS), max_size=7).map("".join)))
def test_mounts(mount_base: Path, text: str) -> None:
    _count("--mount")
    mount = _expect_clean(parse_mount, text, mount_base)
    if mount is not None:
        assert isinstance(mount, Mount) and Path(mount.source).exists() and mount.target.startswith("/")


IMAGE_TOKENS = (
    "paddlepaddle/paddle",
    "paddle",
    "Paddle",
    "localhost:5000/",
    "registry.example.com/",
    "/",
    ":",
    "3.2.0",
    "latest",
    "3.2.0-gpu",
    "nightly",
    "@",
    "sha256:",
    "a" * 64,
    "0" * 63,
    "..",
    "-",
    "_",
    "__",
    " ",
    "\u00e9",
)


@MANY
@given(st.one_of(argv_text, st.lists(st.sampled_from(IMAGE_TOKENS), max_size=6).map("".join)))
def test_image_references(text: str) -> None:
    _count("image reference")
    image = _expect_clean(PinnedImage.parse, text)
    if image is not None:
        assert image.digest or (image.tag and image.tag != "latest")
        assert PinnedImage.parse(image.reference) == image  # a parsed reference reads back the same


# -- files: paddlectl.yaml, params files, manifests ------------------------------------------------------------------

CONFIG_KEYS = (
    "project",
    "images",
    "cpu",
    "gpu",
    "train",
    "gpus",
    "shm_size",
    "params",
    "export",
    "model",
    "model_args",
    "inputs",
    "name",
    "dtype",
    "shape",
    "weights",
    "lr",
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.sampled_from(YAML_TOKENS),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(CONFIG_KEYS), st.text(max_size=5)), children, max_size=5),
    ),
    max_leaves=20,
)


def _mutate(text: str, data: st.DataObject) -> str:
    """Insert, delete or replace a few characters: the damage a bad edit or a torn write does."""
    for _ in range(data.draw(st.integers(0, 3))):
        if not text:
            break
        at = data.draw(st.integers(0, len(text) - 1))
        piece = data.draw(st.sampled_from(("", "[", ":", "\n", " ", "!!", "'", "-", "\x00", "\t", "&a", "*a")))
        text = text[:at] + piece + text[at + data.draw(st.integers(0, 2)) :]
    return text


yaml_texts = st.one_of(yaml_soup, documents.map(lambda doc: yaml.safe_dump(doc, allow_unicode=True)))


@MANY
@given(yaml_texts, st.data())
def test_config_documents(text: str, data: st.DataObject) -> None:
    _count("paddlectl.yaml")
    text = _mutate(text, data)
    document = _expect_clean(load_yaml, text, "paddlectl.yaml")
    config = _expect_clean(parse_config, document, Path("proj/paddlectl.yaml"))
    if config is not None:
        assert isinstance(config, ProjectConfig) and isinstance(config.name, str)


@FEWER
@given(st.one_of(st.binary(max_size=200), yaml_texts.map(lambda text: text.encode("utf-8", "surrogatepass"))))
def test_config_and_params_files_from_bytes(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    _count("paddlectl.yaml / params file bytes")
    folder = tmp_path_factory.mktemp("cfg")
    for name in ("paddlectl.yaml", "params.yaml", "params.json"):
        (folder / name).write_bytes(raw)
    _expect_clean(load_config, folder / "paddlectl.yaml")
    for name in ("params.yaml", "params.json"):
        values = _expect_clean(load_params_file, folder / name)
        if values is not None:
            assert all(value is None or isinstance(value, str | int | float | bool) for value in values.values())


def _valid_manifest() -> dict[str, Any]:
    return Manifest.from_dict(
        {
            "schema_version": 1,
            "id": "20261122-103000-000ab12cd",
            "project": "p",
            "status": "succeeded",
            "started_at": "2026-11-22T10:30:00.000Z",
            "image": {"reference": "paddle:3.2.0"},
            "command": {"script": "train.py", "module": None},
            "params": {"values": {"lr": 0.1}, "sources": {}},
            "metrics": {"file": "metrics.jsonl", "summary": {"acc": {"last": 0.9, "min": 0.1, "max": 0.9}}},
        }
    ).to_dict()


def _replace_fields(document: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """A manifest whose fields hold values of the wrong type (hand edits, other tools, older versions)."""
    for key in data.draw(st.lists(st.sampled_from(sorted(document)), max_size=4)):
        document[key] = data.draw(documents)
    return document


@MANY
@given(st.data())
def test_manifests_never_break_loading_or_listing(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    _count("manifest.yaml")
    kind = data.draw(st.sampled_from(("bytes", "mutated", "wrong-types")))
    if kind == "bytes":
        raw = data.draw(st.binary(max_size=300))
    elif kind == "mutated":
        raw = _mutate(dump_yaml(_valid_manifest()), data).encode("utf-8", "surrogatepass")
    else:
        raw = dump_yaml(_replace_fields(_valid_manifest(), data)).encode("utf-8")
    run_dir = tmp_path_factory.mktemp("runs") / "20261122-103000-000ab12cd"
    run_dir.mkdir()
    (run_dir / "manifest.yaml").write_bytes(raw)
    stored = RunStore.load(RunPaths(run_dir))  # never raises: problems come back as text
    assert (stored.manifest is None) != (stored.problem is None)
    if stored.manifest is not None:
        assert isinstance(stored.manifest.status, RunStatus)
        row = summarize(run_dir.name, stored.manifest)  # the listing row: must not raise either
        assert row["id"] == run_dir.name


# -- archives ---------------------------------------------------------------------------------------------------------


@functools.cache
def _good_package() -> tuple[bytes, dict[str, bytes]]:
    """A small valid package and the files it unpacks to (a cache, not a fixture: hypothesis prints fixtures)."""
    from paddlectl.packaging import PackageRequest, build_package, unpack_package
    from unit.packaging.test_packaging_fakes import make_export

    root = _temporary_folder("pdctl-fuzz-pkg-")
    export = make_export(root / "proj", weights_size=3000)
    package = build_package(PackageRequest(export_dir=export, name="digits", version="1.0.0", output_dir=root)).path
    unpack_package(package, root / "unpacked")
    return package.read_bytes(), _files(root / "unpacked")


def _files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def _tar_with(name: str, kind: bytes, linkname: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = linkname
        info.size = 1 if kind == tarfile.REGTYPE else 0
        archive.addfile(info, io.BytesIO(b"x") if kind == tarfile.REGTYPE else None)
    return buffer.getvalue()


@MANY
@given(st.data())
def test_archives_verify_and_unpack(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject) -> None:
    """Damaged archives: an error or problems, never a crash; clean means the original files, byte for byte."""
    from paddlectl.packaging import VerifyReport, unpack_package, verify_package

    _count("package archive")
    good, good_files = _good_package()
    kind = data.draw(st.sampled_from(("bytes", "flipped", "truncated", "spliced", "evil-member")))
    if kind == "bytes":
        raw = data.draw(st.binary(max_size=2048))
    elif kind == "flipped":
        damaged = bytearray(good)
        for _ in range(data.draw(st.integers(1, 4))):
            damaged[data.draw(st.integers(0, len(damaged) - 1))] ^= 1 << data.draw(st.integers(0, 7))
        raw = bytes(damaged)
    elif kind == "truncated":
        raw = good[: data.draw(st.integers(0, len(good) - 1))]
    elif kind == "spliced":
        at = data.draw(st.integers(0, len(good) // 512)) * 512
        raw = good[:at] + data.draw(st.binary(min_size=1, max_size=1024)) + good[at:]
    else:
        name = data.draw(st.sampled_from(("/etc/pwned", "../pwned", "a/../../pwned", "ok/../x", "MODEL.yaml")))
        member_type = data.draw(
            st.sampled_from(
                (tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, tarfile.FIFOTYPE, tarfile.DIRTYPE)
            )
        )
        raw = _tar_with(name, member_type, "../../etc/passwd")[:-1024] + good  # the evil member comes first
    folder = tmp_path_factory.mktemp("pkg")
    package = folder / "digits-1.0.0.tar"
    package.write_bytes(raw)
    report = _expect_clean(verify_package, package)
    assert report is None or isinstance(report, VerifyReport)
    clean = report is not None and not report.problems
    result = _expect_clean(unpack_package, package, folder / "out")
    assert (result is not None) == clean, "unpack and verify disagree"
    assert sorted(p.name for p in folder.iterdir()) == sorted(["digits-1.0.0.tar", *(["out"] if clean else [])])
    assert not (folder.parent / "pwned").exists()
    if clean:
        assert _files(folder / "out") == good_files, "a package that verifies clean unpacked other files"


# -- YAML payloads ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_python_object_yaml_is_rejected_everywhere(tmp_path: Path, payload: str) -> None:
    config = tmp_path / "paddlectl.yaml"
    config.write_text(f"project: {payload}\n", encoding="utf-8")
    with pytest.raises(PaddlectlError, match="not valid YAML"):
        load_config(config)
    params = tmp_path / "params.yaml"
    params.write_text(f"lr: {payload}\n", encoding="utf-8")
    with pytest.raises(PaddlectlError, match="not valid YAML"):
        load_params_file(params)
    run_dir = tmp_path / "runs" / "20261122-103000-000ab12cd"
    run_dir.mkdir(parents=True)
    document = dump_yaml(_valid_manifest()).replace("reference: paddle:3.2.0", f"reference: {payload}")
    (run_dir / "manifest.yaml").write_text(document, encoding="utf-8")
    stored = RunStore.load(RunPaths(run_dir))
    assert stored.manifest is None and stored.problem and "not valid YAML" in stored.problem
    key, value = parse_assignment(f"lr={payload}")  # a -p value is text for the script, never loaded as code
    assert (key, value) == ("lr", payload)
    assert not SENTINEL.exists()


def test_deep_nesting_is_an_error_not_a_crash(tmp_path: Path) -> None:
    """libyaml's composer recurses on the C stack: 100,000 levels used to kill the process with SIGSEGV."""
    depth = 100_000
    for text in ("[" * depth + "]" * depth, "- " * depth + "x", "? " * depth + "x"):
        with pytest.raises(PaddlectlError, match="nested too deeply"):
            load_yaml(text, "deep.yaml")
    run_dir = tmp_path / "20261122-103000-000ab12cd"
    run_dir.mkdir()
    (run_dir / "manifest.yaml").write_text("- " * depth + "x", encoding="utf-8")
    assert "nested too deeply" in (RunStore.load(RunPaths(run_dir)).problem or "")
    with pytest.raises(PaddlectlError):
        parse_assignment("lr=" + "[" * depth)
    (tmp_path / "p.json").write_text("[" * depth, encoding="utf-8")
    with pytest.raises(PaddlectlError, match="nested too deeply"):
        load_params_file(tmp_path / "p.json")


# -- the CLI itself ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_project() -> Path:
    root = _temporary_folder("pdctl-fuzz-cli-") / "proj"
    root.mkdir(parents=True)
    (root / "paddlectl.yaml").write_text("project: fuzz\nimages:\n  cpu: paddle:3.2.0\n", encoding="utf-8")
    (root / "train.py").write_text("print('hi')\n", encoding="utf-8")
    runs = root / ".paddlectl" / "runs"
    good = runs / "20261122-103000-000ab12cd"
    good.mkdir(parents=True)
    (good / "manifest.yaml").write_text(dump_yaml(_valid_manifest()), encoding="utf-8")
    bad = runs / "20261122-103001-000ab12ce"
    bad.mkdir()
    (bad / "manifest.yaml").write_bytes(b"\xff\xfe not yaml: [")
    return root


CLI_OPTIONS = ("-p", "--label", "--env", "--gpus", "--mount", "--shm-size", "--memory", "--image")


@CLI_RUNS
@given(
    st.sampled_from(("train", "runs-list", "export")),
    st.sampled_from(CLI_OPTIONS),
    st.one_of(argv_text, yaml_soup, st.sampled_from(YAML_TOKENS)),
)
def test_cli_never_crashes_on_bad_options(
    cli_project: Path, monkeypatch: pytest.MonkeyPatch, command: str, option: str, value: str
) -> None:
    """In-process through Typer's runner: an error is a PaddlectlError (one line at the boundary) or a usage exit."""
    from typer.testing import CliRunner

    from paddlectl.cli.app import app

    _count("CLI (in process)")
    monkeypatch.chdir(cli_project)
    if command == "train":
        args = ["train", "--dry-run", option, value, "train.py"]
    elif command == "runs-list":
        args = [
            "runs",
            "list",
            "--json",
            random.Random(value).choice(("--where", "--label", "--param", "--since", "--sort", "--status")),
            value,
        ]
    else:
        args = ["export", "--random-init", "--model", "m:f", "--input", value, "-o", "out"]
    result = CliRunner().invoke(app, args, catch_exceptions=True)
    error = result.exception
    assert error is None or isinstance(error, PaddlectlError | SystemExit), (
        f"{args!r} raised {type(error).__name__}: {error}"
    )
    if command == "export" and isinstance(error, PaddlectlError):
        assert "--input" in error.message or "input" in error.message, error.message


NASTY = (
    ["train", "--dry-run", "-p", "lr=2020-13-45", "-p", "x=" + "[" * 50_000, "train.py"],
    ["train", "--dry-run", "--gpus", "0,0", "train.py"],
    ["train", "--dry-run", "--mount", "nowhere:rel", "train.py"],
    ["train", "--dry-run", "--image", "Paddle@sha256:zz", "train.py"],
    ["runs", "list", "--where", "acc>=fast"],
    ["runs", "list", "--json"],  # one manifest in the project is not UTF-8: one bad row, no crash
    ["export", "--random-init", "--model", "m:f", "--input", "x:float32:1e400"],
    ["verify", "/dev/null"],
)


@pytest.mark.parametrize("args", NASTY, ids=lambda args: " ".join(args)[:40])
def test_cli_subprocess_gives_one_line_errors(cli_project: Path, args: list[str]) -> None:
    """The real entry point (`python -m paddlectl`): never a traceback or an internal error for bad input."""
    _count("CLI (subprocess)")
    result = subprocess.run(
        [sys.executable, "-m", "paddlectl", *args],
        cwd=cli_project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "DOCKER_HOST": "unix:///nonexistent"},
    )
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "internal error" not in output, output
    if args[:2] == ["runs", "list"] and "--json" in args:
        assert result.returncode == 0, output
        assert '"bad"' in result.stdout and "not UTF-8" in result.stdout
    else:
        assert result.returncode != 0, output
        errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
        assert len(errors) == 1 or (result.returncode == 2 and "Usage:" in output), output


def test_counts_are_real() -> None:
    """The targets above really ran their hundreds of inputs (a filter gone wrong would quietly shrink them)."""
    if not TRIED:
        pytest.skip("run with the whole module to count")
    for name, count in TRIED.items():
        assert count >= 8 if "CLI" in name else count >= 150, (name, count)
