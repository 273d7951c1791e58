"""Usage errors that say the right thing once: mistyped commands, and options meant for the training script."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli


def _error(stderr: str) -> str:
    (line,) = [line for line in stderr.splitlines() if line.startswith("error:")]
    return line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("runs", "lst"), "error: No such command 'lst'. Did you mean 'list'?"),
        (("trian",), "error: No such command 'trian'. Did you mean 'train'?"),
        (("image", "bild"), "error: No such command 'bild'. Did you mean 'build'?"),
        (("keys", "gen"), "error: No such command 'gen'. Did you mean 'generate'?"),
        (("runs", "zzz"), "error: No such command 'zzz'."),
    ],
)
def test_a_mistyped_command_gets_one_suggestion(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert _error(result.stderr) == expected
    assert result.stderr.count("Did you mean") <= 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("train", "train.py", "--epoch", "3"),
            "error: No such option: --epoch. If it is for train.py, pass it as a param: -p epoch=3 (recorded with "
            "the run), or after '--': paddlectl train train.py -- --epoch 3 (passed as is).",
        ),
        (
            ("train", "--image", "repo/x:1.0", "train.py", "-p", "a=1", "--lr=0.1"),
            "error: No such option: --lr. If it is for train.py, pass it as a param: -p lr=0.1 (recorded with the "
            "run), or after '--': paddlectl train train.py -- --lr 0.1 (passed as is).",
        ),
        (
            ("train", "-m", "pkg.train", "--fast"),
            "error: No such option: --fast. If it is for pkg.train, pass it after '--': "
            "paddlectl train -m pkg.train -- --fast (passed as is).",
        ),
        (
            ("train", "train.py", "--detahc"),
            "error: No such option: --detahc. Did you mean '--detach'? If it is for train.py, pass it after '--': "
            "paddlectl train train.py -- --detahc (passed as is).",
        ),
    ],
)
def test_an_unknown_option_after_the_script_says_how_to_pass_it(
    tmp_path: Path, args: tuple[str, ...], expected: str
) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert _error(result.stderr) == expected
    assert "--keep" not in result.stderr and "--nproc" not in result.stderr  # not click's far-fetched guesses
    assert not (tmp_path / ".paddlectl").exists()


def test_an_unknown_option_before_the_script_is_click_s_own_error(tmp_path: Path) -> None:
    result = run_cli("train", "--imag", "repo/x:1.0", "train.py", cwd=tmp_path)
    assert result.returncode == 2
    assert _error(result.stderr) == "error: No such option '--imag'. Did you mean '--image'?"
