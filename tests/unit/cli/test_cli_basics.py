"""The CLI's surface: version, help, a lean start-up, and docs that match the code."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

import click
import typer.main
from click.utils import make_default_short_help

import paddlectl
from conftest import REPO_ROOT, run_cli
from paddlectl.cli.app import RootGroup, app
from paddlectl.errors import ExitCode

# Modules `paddlectl --help` must not import: each costs tens of milliseconds (see bench/startup.py).
HEAVY = ("docker", "requests", "rich", "yaml", "git", "numpy", "msgspec", "paramiko", "paddlectl.engine.docker_engine")


def command_names() -> list[str]:
    group = typer.main.get_command(app)
    assert isinstance(group, RootGroup)
    return group.list_commands(click.Context(group))


def test_version_is_the_package_version_on_stdout() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout == f"paddlectl {paddlectl.__version__}\n"
    assert paddlectl.__version__ == importlib.metadata.version("paddlectl")


def test_help_lists_every_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    listed = re.findall(r"^  ([a-z][a-z-]*)\s", result.stdout.split("Commands:", 1)[1], flags=re.MULTILINE)
    assert {"doctor", "init"} <= set(listed)
    assert sorted(listed) == sorted(command_names())


def test_the_console_script_runs() -> None:
    script = Path(sys.executable).parent / "paddlectl"
    assert script.is_file(), "pip install -e . installs the paddlectl console script"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout) == (0, f"paddlectl {paddlectl.__version__}\n")


def test_every_listed_summary_is_the_commands_own_first_line() -> None:
    group = typer.main.get_command(app)
    context = click.Context(group)
    for name, lazy in RootGroup.lazy.items():
        command = group.get_command(context, name)  # type: ignore[attr-defined]
        assert command is not None
        assert make_default_short_help(lazy.summary, 1000) == command.get_short_help_str(1000), (
            f"update the summary of '{name}' in cli/app.py to the first line of its docstring"
        )


def test_help_imports_nothing_heavy_and_no_command_module() -> None:
    commands = sorted({lazy.target.partition(":")[0] for lazy in RootGroup.lazy.values()})
    probe = (
        "import atexit, sys\n"
        f"heavy = {[*HEAVY, *commands]!r}\n"
        "atexit.register(lambda: print('LOADED', [m for m in heavy if m in sys.modules], file=sys.stderr))\n"
        "sys.argv = ['paddlectl', '--help']\n"
        "from paddlectl.cli.app import main\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "LOADED []" in result.stderr, f"--help imported heavy modules: {result.stderr}"


def test_cli_reference_is_up_to_date() -> None:
    """Also renders every command's and sub-command's --help, which fails if any of them crashes."""
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "gen-cli-docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_readme_documents_every_exit_code() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    documented = {int(code) for code in re.findall(r"^\| `?(\d+)`? \|", readme, flags=re.MULTILINE)}
    assert documented >= {int(code) for code in ExitCode}


# Figures a check does not keep true go stale (the README once said 814 tests and "about 4 minutes"). Recorded
# transcripts (```console blocks) are output, not claims; everything else states no test count or duration.
_STALE_FIGURES = re.compile(
    r"\b\d[\d,]* (?:unit |real-engine )?tests\b"  # counts of tests
    r"|\b\d[\d,]* passed\b"
    r"|(?:about|~) ?\d+(?:\.\d+)? ?(?:s|seconds?|minutes?)\b"  # durations
)


def test_readme_states_no_test_counts_or_durations() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    prose = re.sub(r"^```console\n.*?^```\n", "", readme, flags=re.MULTILINE | re.DOTALL)
    assert _STALE_FIGURES.findall(prose) == []
    assert _STALE_FIGURES.findall("tests 818 passed in 5 min; about 4 minutes, 64 real-engine tests")  # it can fail
