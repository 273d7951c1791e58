"""What image tags are made of: lock files and their markers, content hashes, tag names, wheelhouse cache keys."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paddlectl.errors import UnavailableError, UsageError
from paddlectl.foundation.image_ref import PinnedImage
from paddlectl.images.lock import Marker, load_lock, parse_lock
from paddlectl.images.tags import ImageRole, image_tag, inputs_hash, repository_component
from paddlectl.images.wheelhouse import MANIFEST, TargetPlatform, ensure_wheelhouse, parse_glibc

REPO_ROOT = Path(__file__).resolve().parents[3]
LOCKS = REPO_ROOT / "images"
H1, H2, H3 = ("a" * 64), ("b" * 64), ("c" * 64)
TARGET = TargetPlatform("3.11", "x86_64", (2, 36))


def lock_text(*lines: str) -> str:
    return "# comment\n" + "\n".join(lines) + "\n"


# ---------------------------------------------------------------- lock files


@pytest.mark.parametrize("role", ["base", "dev"])
def test_the_repository_locks_pin_every_package_with_hashes(role: str) -> None:
    lock = load_lock(LOCKS / f"requirements-{role}.lock")
    assert lock.requirements
    assert lock.sha256 == hashlib.sha256((LOCKS / f"requirements-{role}.lock").read_bytes()).hexdigest()
    for python in ("3.10", "3.11", "3.12"):
        chosen = lock.for_python(python)  # raises when a package is locked twice for one Python
        assert chosen and all(requirement.hashes for requirement in chosen)


def test_dev_lock_picks_per_python_versions_and_the_tools() -> None:
    lock = load_lock(LOCKS / "requirements-dev.lock")
    names = {python: {r.name: r.version for r in lock.for_python(python)} for python in ("3.10", "3.11")}
    for tool in ("jupyterlab", "ipdb", "py-spy"):
        assert tool in names["3.10"] and tool in names["3.11"]
    assert names["3.10"]["ipython"].startswith("8.")  # IPython 9 needs Python 3.11
    assert names["3.11"]["ipython"].startswith("9.")
    base = {r.name for r in load_lock(LOCKS / "requirements-base.lock").requirements}
    assert base >= {"pyyaml", "tqdm"} and not base & set(names["3.11"]), "dev does not re-lock base packages"


def test_lock_lines_continuations_markers_and_names() -> None:
    text = lock_text(
        "PyYAML==6.0.3 \\",
        f"    --hash=sha256:{H1} \\",
        f"    --hash=sha256:{H2}",
        f'ipython==8.39.0 ; python_version == "3.10" --hash=sha256:{H3}',
        f'ipython==9.1.0 ; python_version >= "3.11" and python_version < "3.13" --hash=sha256:{H1}',
    )
    lock = parse_lock(text, Path("x.lock"))
    first = lock.requirements[0]
    assert (first.name, first.version, first.hashes, first.marker, first.line) == (
        "pyyaml",
        "6.0.3",
        frozenset({H1, H2}),
        None,
        2,
    )
    assert [(r.name, r.version) for r in lock.for_python("3.10")] == [("pyyaml", "6.0.3"), ("ipython", "8.39.0")]
    assert [(r.name, r.version) for r in lock.for_python("3.12")] == [("pyyaml", "6.0.3"), ("ipython", "9.1.0")]
    assert [r.name for r in lock.for_python("3.13")] == ["pyyaml"]
    assert first.pip_line() == f"pyyaml==6.0.3 --hash=sha256:{H1} --hash=sha256:{H2}"


@pytest.mark.parametrize(
    ("marker", "yes", "no"),
    [
        ('python_version == "3.10"', ["3.10"], ["3.9", "3.11"]),
        ('python_version != "3.10"', ["3.11"], ["3.10"]),
        ('python_version < "3.11"', ["3.8", "3.10"], ["3.11", "3.12"]),
        ('python_version <= "3.11"', ["3.11"], ["3.12"]),
        ('python_version > "3.9"', ["3.10", "3.11"], ["3.9", "3.8"]),  # numeric, not text: 3.10 > 3.9
        ('python_version == "3.10" or python_version == "3.12"', ["3.10", "3.12"], ["3.11"]),
        ("python_version >= '3.10' and python_version < '3.12'", ["3.10", "3.11"], ["3.12", "3.9"]),
        (
            '(python_version == "3.8" or python_version >= "3.12") and python_version != "3.13"',
            ["3.8", "3.12"],
            ["3.13"],
        ),
        ('python_version in "3.10 3.11"', ["3.10", "3.11"], ["3.12"]),
    ],
)
def test_python_version_markers(marker: str, yes: list[str], no: list[str]) -> None:
    parsed = Marker.parse(marker, "x")
    assert all(parsed.matches(python) for python in yes)
    assert not any(parsed.matches(python) for python in no)


def test_markers_are_evaluated_for_the_image_not_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    import packaging.markers

    from paddlectl.images.lock import image_environment

    # Marker.evaluate starts from the running interpreter's environment: the image's must give every variable.
    assert set(packaging.markers.default_environment()) <= set(image_environment("3.11"))
    host = dict.fromkeys(packaging.markers.default_environment(), "9.9")
    monkeypatch.setattr(packaging.markers, "default_environment", lambda: host)
    assert Marker.parse('python_version == "3.8"', "x").matches("3.8")
    assert not Marker.parse('python_version == "9.9"', "x").matches("3.8")


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (f"pyyaml>=6.0 --hash=sha256:{H1}", "does not pin one version"),
        ("pyyaml==6.0.3", "needs a pip --hash"),
        ("pyyaml==6.0.3 --hash=sha256:abc", "needs a pip --hash"),
        (f"pyyaml==6.0.3 --hash=md5:{'0' * 32}", "needs a pip --hash"),
        (f"pyyaml==6.0.3 --hash=sha256:{H1} --index-url http://evil", "needs a pip --hash"),
        (f'pyyaml==6.0.3 ; sys_platform == "linux" --hash=sha256:{H1}', "unsupported marker"),
        (f'pyyaml==6.0.3 ; os.name == "posix" --hash=sha256:{H1}', "unsupported marker"),
        (f'pyyaml==6.0.3 ; python_version ~ "3" --hash=sha256:{H1}', "unsupported marker"),
        (f"-e git+https://x/y --hash=sha256:{H1}", "does not pin one version"),
    ],
)
def test_malformed_lock_lines_are_refused_with_file_and_line(line: str, says: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_lock(lock_text(line), Path("requirements-base.lock"))
    assert says in caught.value.message
    assert "requirements-base.lock line 2" in caught.value.message
    assert caught.value.hint


def test_a_package_locked_twice_for_one_python_is_refused() -> None:
    lock = parse_lock(
        lock_text(f"a==1 --hash=sha256:{H1}", f'a==2 ; python_version == "3.11" --hash=sha256:{H2}'), Path("x.lock")
    )
    assert [r.version for r in lock.for_python("3.10")] == ["1"]
    with pytest.raises(UsageError, match="locked twice"):
        lock.for_python("3.11")


# ---------------------------------------------------------------- hashes and tags


def test_inputs_hash_is_stable_and_sensitive() -> None:
    inputs = {"role": "base", "lock_sha256": H1, "parent": {"id": "sha256:" + H2, "digest": None}}
    reordered = {"parent": {"digest": None, "id": "sha256:" + H2}, "lock_sha256": H1, "role": "base"}
    assert inputs_hash(inputs) == inputs_hash(reordered)
    assert len(inputs_hash(inputs)) == 64
    changed = {**inputs, "parent": {"id": "sha256:" + H3, "digest": None}}
    assert inputs_hash(changed) != inputs_hash(inputs)
    assert inputs_hash({**inputs, "lock_sha256": H2}) != inputs_hash(inputs)


def test_tag_names() -> None:
    digest = inputs_hash({"x": 1})
    assert image_tag("digits", ImageRole.BASE, "3.2.0", digest) == f"digits/paddle-base:3.2.0-{digest[:12]}"
    assert image_tag("My Project!", ImageRole.DEV, "3.2.0", digest) == f"my-project/paddle-dev:3.2.0-{digest[:12]}"
    prod = image_tag("digits", ImageRole.PROD, "m-1.0.0+build.5", digest)
    assert prod == f"digits/paddle-prod:m-1.0.0_build.5-{digest[:12]}"
    long = image_tag("p", ImageRole.PROD, "x" * 300, digest)
    assert len(long.split(":", 1)[1]) == 128 and long.endswith(digest[:12])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Digits", "digits"),
        ("a__b..c", "a-b-c"),
        ("--x--", "x"),
        ("", "paddlectl"),
        ("日本", "paddlectl"),
        ("a b/c", "a-b-c"),
    ],
)
def test_repository_component(name: str, expected: str) -> None:
    assert repository_component(name) == expected


@given(st.text(max_size=80), st.text(max_size=40), st.sampled_from(list(ImageRole)))
def test_every_tag_is_a_valid_pinned_reference(project: str, version: str, role: ImageRole) -> None:
    tag = image_tag(project, role, version, "f" * 64)
    pinned = PinnedImage.parse(tag)  # a valid reference whose tag does not float
    assert pinned.tag is not None and pinned.tag.endswith("-ffffffffffff")
    assert not pinned.tag.lower().startswith("latest")


# ---------------------------------------------------------------- wheelhouse


def test_platform_tags_follow_glibc_and_architecture() -> None:
    tags = TARGET.pip_platforms()
    assert tags[0] == "manylinux_2_36_x86_64" and tags[-1] == "any"
    assert {"manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64"} <= set(tags)
    assert "manylinux_2_37_x86_64" not in tags
    arm = TargetPlatform("3.10", "aarch64", (2, 31)).pip_platforms()
    assert arm[0] == "manylinux_2_31_aarch64" and "manylinux_2_16_aarch64" not in arm
    assert "manylinux2014_aarch64" in arm and "manylinux1_aarch64" not in arm


def test_glibc_is_required() -> None:
    assert parse_glibc("glibc", "2.36") == (2, 36)
    assert parse_glibc("glibc", "2.31.1") == (2, 31)
    with pytest.raises(UsageError, match="not glibc"):
        parse_glibc("", "")


def test_cache_keys_change_with_lock_python_and_platform(tmp_path: Path) -> None:
    one = parse_lock(lock_text(f"a==1 --hash=sha256:{H1}"), tmp_path / "x.lock")
    two = parse_lock(lock_text(f"a==2 --hash=sha256:{H1}"), tmp_path / "x.lock")
    key = TARGET.cache_key(one)
    assert key == f"{one.sha256[:16]}-py3.11-manylinux_2_36_x86_64"
    assert key == TargetPlatform("3.11", "x86_64", (2, 36)).cache_key(one)
    others = {
        TARGET.cache_key(two),
        TargetPlatform("3.10", "x86_64", (2, 36)).cache_key(one),
        TargetPlatform("3.11", "x86_64", (2, 31)).cache_key(one),
        TargetPlatform("3.11", "aarch64", (2, 36)).cache_key(one),
    }
    assert key not in others and len(others) == 4


class FakePip:
    """Stands in for `pip download`: writes the wheels it is given into -d and records each command."""

    def __init__(self, wheels: dict[str, bytes], returncode: int = 0, stderr: str = "") -> None:
        self.wheels = wheels
        self.returncode = returncode
        self.stderr = stderr
        self.commands: list[list[str]] = []
        self.requirements: list[str] = []

    def __call__(self, command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        command = list(command)
        self.commands.append(command)
        dest = Path(command[command.index("-d") + 1])
        self.requirements.append(Path(command[command.index("-r") + 1]).read_text())
        if self.returncode == 0:
            for name, data in self.wheels.items():
                (dest / name).write_bytes(data)
        return subprocess.CompletedProcess(command, self.returncode, "", self.stderr)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_wheelhouse_is_downloaded_once_then_reused(tmp_path: Path) -> None:
    pure, binary = b"pure wheel", b"binary wheel"
    lock = parse_lock(
        lock_text(
            f"tqdm==4.70.1 --hash=sha256:{sha(pure)}",
            f'pyyaml==6.0.3 ; python_version == "3.11" --hash=sha256:{sha(binary)} --hash=sha256:{H1}',
            f'ipython==8.39.0 ; python_version == "3.10" --hash=sha256:{H2}',
        ),
        tmp_path / "requirements-base.lock",
    )
    pip = FakePip({"tqdm-4.70.1-py3-none-any.whl": pure, "PyYAML-6.0.3-cp311-cp311-manylinux2014_x86_64.whl": binary})
    house = ensure_wheelhouse(lock, TARGET, tmp_path / "cache", pip)
    assert house.downloaded and house.path == tmp_path / "cache" / "wheels" / TARGET.cache_key(lock)
    assert house.files == ("PyYAML-6.0.3-cp311-cp311-manylinux2014_x86_64.whl", "tqdm-4.70.1-py3-none-any.whl")
    assert (house.path / MANIFEST).is_file()
    command = pip.commands[0]
    for flag in ("--no-deps", "--only-binary=:all:", "--require-hashes"):
        assert flag in command
    assert command[command.index("--python-version") + 1] == "3.11"
    assert "manylinux_2_36_x86_64" in command and "any" in command
    # the host's pip evaluates markers for its own Python: it gets only this Python's lines, markers removed
    assert "ipython" not in pip.requirements[0] and ";" not in pip.requirements[0]
    assert f"--hash=sha256:{sha(binary)}" in pip.requirements[0]
    again = ensure_wheelhouse(lock, TARGET, tmp_path / "cache", pip)
    assert not again.downloaded and again.path == house.path and len(pip.commands) == 1
    assert [p.name for p in house.path.parent.iterdir()] == [house.path.name], "no staging folder left behind"


def test_a_corrupted_cached_wheel_is_downloaded_again(tmp_path: Path) -> None:
    data = b"wheel"
    lock = parse_lock(lock_text(f"tqdm==1 --hash=sha256:{sha(data)}"), tmp_path / "x.lock")
    pip = FakePip({"tqdm-1-py3-none-any.whl": data})
    house = ensure_wheelhouse(lock, TARGET, tmp_path, pip)
    (house.path / "tqdm-1-py3-none-any.whl").write_bytes(b"flipped")
    again = ensure_wheelhouse(lock, TARGET, tmp_path, pip)
    assert again.downloaded and len(pip.commands) == 2
    assert (again.path / "tqdm-1-py3-none-any.whl").read_bytes() == data


def test_pip_failure_is_one_line_with_a_hint_and_leaves_no_cache(tmp_path: Path) -> None:
    lock = parse_lock(lock_text(f"tqdm==1 --hash=sha256:{H1}"), tmp_path / "x.lock")
    stderr = "WARNING: ignored\nERROR: Could not find a version that satisfies the requirement tqdm==1\n"
    with pytest.raises(UnavailableError) as caught:
        ensure_wheelhouse(lock, TARGET, tmp_path, FakePip({}, returncode=1, stderr=stderr))
    assert "Could not find a version" in caught.value.message and "\n" not in caught.value.message
    assert "lock.py" in (caught.value.hint or "")
    assert list((tmp_path / "wheels").iterdir()) == []


def test_a_wheel_with_an_unlocked_hash_is_refused(tmp_path: Path) -> None:
    lock = parse_lock(lock_text(f"tqdm==1 --hash=sha256:{H1}"), tmp_path / "x.lock")
    with pytest.raises(UnavailableError, match="lacks tqdm==1"):
        ensure_wheelhouse(lock, TARGET, tmp_path, FakePip({"tqdm-1-py3-none-any.whl": b"other bytes"}))
    assert list((tmp_path / "wheels").iterdir()) == []


def test_an_empty_selection_needs_no_pip(tmp_path: Path) -> None:
    lock = parse_lock(lock_text(f'a==1 ; python_version == "3.10" --hash=sha256:{H1}'), tmp_path / "x.lock")
    pip = FakePip({})
    house = ensure_wheelhouse(lock, TARGET, tmp_path, pip)
    assert house.files == () and pip.commands == []
