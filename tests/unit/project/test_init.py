"""paddlectl init: writes the config and the git-ignored run store, and never overwrites without --force."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_cli
from paddlectl.errors import ExitCode
from paddlectl.project.config import DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE, load_config


def test_init_writes_a_loadable_config_and_an_ignored_store(project_dir: Path) -> None:
    result = run_cli("init", cwd=project_dir)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "", "human messages go to stderr"
    assert "paddlectl.yaml" in result.stderr
    config = load_config(project_dir / "paddlectl.yaml")
    assert config.name == project_dir.name
    assert (config.cpu_image, config.gpu_image, config.gpus) == (DEFAULT_CPU_IMAGE, DEFAULT_GPU_IMAGE, "none")
    assert config.export.inputs == ()
    ignore = (project_dir / ".paddlectl" / ".gitignore").read_text()
    assert "*" in ignore.splitlines()
    assert (project_dir / ".paddlectl" / "runs").is_dir()


def test_init_refuses_to_overwrite_without_force(project_dir: Path) -> None:
    config = project_dir / "paddlectl.yaml"
    config.write_text("project: mine  # hand-edited\n")
    result = run_cli("init", cwd=project_dir)
    assert result.returncode == ExitCode.USAGE
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0] == "error: paddlectl.yaml already exists"
    assert "--force" in lines[1] and lines[1].startswith("hint: ")
    assert "Traceback" not in result.stderr
    assert config.read_text() == "project: mine  # hand-edited\n"


def test_init_force_overwrites_and_says_so(project_dir: Path) -> None:
    config = project_dir / "paddlectl.yaml"
    config.write_text("project: mine\n")
    result = run_cli("init", "--force", "--json", cwd=project_dir)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document == {"config": "paddlectl.yaml", "store": ".paddlectl", "overwrote": True}
    assert load_config(config).name == project_dir.name


def test_init_into_another_folder_with_pinned_images(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    result = run_cli(
        "init",
        str(target),
        "--cpu-image",
        "registry:5000/team/paddle:3.2.0",
        "--gpu-image",
        f"paddlepaddle/paddle@sha256:{'ab' * 32}",
        "--json",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["overwrote"] is False
    config = load_config(target / "paddlectl.yaml")
    assert config.cpu_image == "registry:5000/team/paddle:3.2.0"
    assert config.gpu_image == f"paddlepaddle/paddle@sha256:{'ab' * 32}"


def test_init_refuses_a_floating_image_and_writes_nothing(project_dir: Path) -> None:
    result = run_cli("init", "--cpu-image", "foo:latest", cwd=project_dir)
    assert result.returncode == ExitCode.USAGE
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("error: image tag 'latest' floats")
    assert lines[1].startswith("hint: pin a release tag")
    assert not (project_dir / "paddlectl.yaml").exists()
    assert not (project_dir / ".paddlectl").exists()


def test_init_git_ignores_the_default_output_folders(tmp_path: Path) -> None:
    """The README's walkthrough wrote a 170 KB package inside the project, and every later run was dirty with the
    tarball in its patch: the places package, export and plots write to by default are ignored."""
    import subprocess

    from paddlectl.project.create import init_project
    from paddlectl.train.git_capture import capture_git

    root = tmp_path / "proj"
    root.mkdir()
    (root / ".gitignore").write_text("*.pyc\n")
    init_project(root, force=False)
    env = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    ident = ["-c", "user.name=t", "-c", "user.email=t@example.com"]
    for args in (["init", "-q"], ["add", "-A"], [*ident, "commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env, capture_output=True)
    outputs = (("dist", "digits-1.0.0.tar"), ("export", "model.json"), ("plots", "acc.png"), ("reports", "gate.xml"))
    for folder, name in outputs:
        (root / folder).mkdir()
        (root / folder / name).write_bytes(b"\0output")
    info = capture_git(root, tmp_path / "uncommitted.patch")
    assert not info.dirty, info
    assert (root / ".gitignore").read_text().startswith("*.pyc\n"), "the user's own lines stay"
    init_project(root, force=True)  # idempotent: no line twice
    assert (root / ".gitignore").read_text().count("/dist/") == 1
