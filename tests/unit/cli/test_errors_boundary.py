"""The one error boundary (cli/app.py main): one line and a hint by default, a traceback only with --debug."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import paddlectl.project.create
from conftest import run_cli
from paddlectl.cli.app import main
from paddlectl.cli.output import out
from paddlectl.errors import ExitCode, UnavailableError

FLOATING = ("init", "--cpu-image", "foo:latest")
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent.sock"}


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.strip().splitlines() if line.startswith(("error:", "hint:"))]


def test_an_expected_error_is_one_line_and_a_hint(project_dir: Path) -> None:
    result = run_cli(*FLOATING, cwd=project_dir)
    assert result.returncode == ExitCode.USAGE
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == ["error", "hint"]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("args", "env"), [(("--debug", *FLOATING), {}), (FLOATING, {"PADDLECTL_DEBUG": "1"})])
def test_debug_shows_the_traceback_and_still_the_error(
    project_dir: Path, args: tuple[str, ...], env: dict[str, str]
) -> None:
    result = run_cli(*args, cwd=project_dir, env=env)
    assert result.returncode == ExitCode.USAGE
    assert "Traceback" in result.stderr
    assert "UsageError" in result.stderr
    assert [line.split(":")[0] for line in error_lines(result.stderr)] == ["error", "hint"]


def test_json_mode_puts_the_error_on_stdout_as_one_document(project_dir: Path) -> None:
    result = run_cli("init", "--json", "--cpu-image", "foo:latest", cwd=project_dir)
    assert result.returncode == ExitCode.USAGE
    document = json.loads(result.stdout)
    assert set(document) == {"error", "hint", "exit_code"}
    assert "floats" in document["error"]
    assert document["hint"].startswith("pin a release tag")
    assert document["exit_code"] == ExitCode.USAGE
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [("init", "--bogus"), ("no-such-command",)])
def test_click_usage_errors_exit_2_without_a_traceback(project_dir: Path, args: tuple[str, ...]) -> None:
    result = run_cli(*args, cwd=project_dir)
    assert result.returncode == ExitCode.USAGE
    assert [line.split(":")[0] for line in result.stderr.strip().splitlines()] == ["error", "hint"]
    assert result.stderr.strip().splitlines()[1].endswith(" --help")
    assert "internal error" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args", [("runs", "list", "--json", "--bogus"), ("runs", "show", "--json"), ("runs", "gc", "--keep", "x", "--json")]
)
def test_a_usage_error_click_finds_is_a_json_document_with_json(project_dir: Path, args: tuple[str, ...]) -> None:
    result = run_cli(*args, cwd=project_dir)
    assert result.returncode == ExitCode.USAGE
    document = json.loads(result.stdout)
    assert document["exit_code"] == ExitCode.USAGE and document["hint"].endswith(" --help")
    assert len(result.stderr.strip().splitlines()) == 2


def test_json_after_the_scripts_double_dash_is_the_script_s(project_dir: Path) -> None:
    result = run_cli("train", "--bogus", "train.py", "--", "--json", cwd=project_dir)
    assert result.returncode == ExitCode.USAGE and result.stdout == ""


def test_a_path_the_system_refuses_is_an_io_error_naming_it(project_dir: Path) -> None:
    assert run_cli("init", "--cpu-image", "repo/paddle:3.2.0", cwd=project_dir).returncode == 0
    config = project_dir / "paddlectl.yaml"
    text = config.read_text()
    config.write_text(re.sub(r"(?m)^profiles: .*$", "profiles: {ci: {params: {epochs: 1}}}", text, count=1))
    (project_dir / "train.py").write_text("print('hi')\n")
    (project_dir / ".gitlab-ci.yml").mkdir()  # where the pipeline file goes
    args = ("ci", "init", "--provider", "gitlab", "--metric", "val_acc:max-drop=1%", "--no-register", "--force")
    result = run_cli(*args, "--json", cwd=project_dir)
    assert result.returncode == ExitCode.IO, result.stderr
    document = json.loads(result.stdout)
    assert "Is a directory" in document["error"] and str(project_dir) in document["error"]
    assert sorted(path.name for path in project_dir.iterdir()) == sorted(
        [".gitlab-ci.yml", ".gitignore", "paddlectl.yaml", "train.py", ".paddlectl"]
    )  # nothing half-written beside it


# --- in-process: what the boundary does with each kind of exception -------------------------------------------


@pytest.fixture
def quiet_output(monkeypatch: pytest.MonkeyPatch, project_dir: Path) -> None:
    monkeypatch.delenv("PADDLECTL_DEBUG", raising=False)
    monkeypatch.setattr(sys, "argv", ["paddlectl", "init"])


def fail_init_with(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    def init_project(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(paddlectl.project.create, "init_project", init_project)


def exit_code_of_main() -> object:
    with pytest.raises(SystemExit) as exited:
        main()
    return exited.value.code


@pytest.mark.usefixtures("quiet_output")
def test_a_bug_is_an_internal_error_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fail_init_with(monkeypatch, RuntimeError("boom"))
    assert exit_code_of_main() == ExitCode.INTERNAL
    stderr = capsys.readouterr().err
    assert stderr.splitlines()[0] == "error: internal error: RuntimeError: boom"
    assert "--debug" in stderr
    assert "Traceback" not in stderr


@pytest.mark.usefixtures("quiet_output")
def test_a_bug_with_debug_shows_its_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["paddlectl", "--debug", "init"])
    fail_init_with(monkeypatch, RuntimeError("boom"))
    assert exit_code_of_main() == ExitCode.INTERNAL
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.usefixtures("quiet_output")
def test_what_one_invocation_sets_is_gone_in_the_next(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--debug (and --json, --quiet) belong to one invocation: a second in the same process starts afresh."""
    monkeypatch.setattr(sys, "argv", ["paddlectl", "--debug", "init"])
    fail_init_with(monkeypatch, RuntimeError("boom"))
    assert exit_code_of_main() == ExitCode.INTERNAL
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", ["paddlectl", "init"])
    assert exit_code_of_main() == ExitCode.INTERNAL
    assert "Traceback" not in capsys.readouterr().err
    assert out.debug is False, "outside a command, `out` is none of theirs"


@pytest.mark.usefixtures("quiet_output")
def test_unavailable_errors_exit_3(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fail_init_with(monkeypatch, UnavailableError("the engine went away", hint="start it again"))
    assert exit_code_of_main() == ExitCode.UNAVAILABLE
    assert capsys.readouterr().err.splitlines() == ["error: the engine went away", "hint: start it again"]


@pytest.mark.usefixtures("quiet_output")
def test_ctrl_c_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    fail_init_with(monkeypatch, KeyboardInterrupt())
    assert exit_code_of_main() == ExitCode.SIGINT


# --- the engine down: doctor says so in one clear line (no engine needed for these) -----------------------------


def test_doctor_with_the_engine_down_ends_with_one_clear_line(project_dir: Path) -> None:
    result = run_cli("doctor", cwd=project_dir, env=NO_ENGINE)
    assert result.returncode == ExitCode.FAILED
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("error: the Docker engine is not reachable")
    assert "unix:///nonexistent.sock" in lines[0]
    # DOCKER_HOST names the engine the user chose: starting a local one would not help
    assert lines[1] == (
        "hint: check that the engine at DOCKER_HOST=unix:///nonexistent.sock runs, or unset DOCKER_HOST to use "
        "the local one"
    )
    assert "Traceback" not in result.stderr + result.stdout
    assert "FAIL" in result.stdout  # the table of checks is the command's data


def test_doctor_json_with_the_engine_down_is_still_one_document(project_dir: Path) -> None:
    result = run_cli("doctor", "--json", cwd=project_dir, env=NO_ENGINE)
    assert result.returncode == ExitCode.FAILED
    report = json.loads(result.stdout)
    assert report["ok"] is False
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["docker engine"]["ok"] is False
    assert checks["docker engine"]["fix"].startswith("check that the engine at DOCKER_HOST=")
    assert checks["docker engine"]["commands"] == []
    assert checks["cpu image"]["ok"] is False
    assert error_lines(result.stderr)[0].startswith("error: the Docker engine is not reachable")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [(), ("runs",), ("registry",)])
def test_a_group_without_a_command_shows_its_help(project_dir: Path, args: tuple[str, ...]) -> None:
    result = run_cli(*args, cwd=project_dir)
    assert result.returncode == ExitCode.USAGE
    assert result.stderr.startswith("Usage: ") and "Commands" in result.stderr and "error:" not in result.stderr


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (("runs", "list", "--sort"), "hint: paddlectl runs list --help"),
        (("registry", "list", "--where"), "hint: paddlectl registry list --help"),
        (("image", "build"), "hint: paddlectl image build --help"),
    ],
)
def test_a_usage_error_without_click_s_context_still_names_the_command(
    project_dir: Path, args: tuple[str, ...], hint: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from paddlectl.cli.entry import main; sys.argv[0] = 'paddlectl'; main()",
         *args], capture_output=True, text=True, cwd=project_dir, check=False, timeout=60,
    )  # fmt: skip
    lines = result.stderr.strip().splitlines()
    assert result.returncode == ExitCode.USAGE and len(lines) == 2, result.stderr
    assert lines[0].startswith("error: ") and "\\\\n" not in lines[0] and lines[1] == hint
