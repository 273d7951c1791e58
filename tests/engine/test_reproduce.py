"""`paddlectl reproduce` for real: recorded commit + uncommitted patch (untracked files too), same image, verdict."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import run_cli

pytestmark = pytest.mark.engine

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]


@pytest.fixture
def repo(tmp_path: Path, paddle_image: str) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "paddlectl.yaml").write_text(
        f"project: repro\nimages:\n  cpu: {paddle_image}\ntrain:\n  params:\n    lr: 0.5\n", encoding="utf-8"
    )
    (root / "train.py").write_text(
        "import argparse, random\nimport paddlectl_metrics as pm\nfrom helper import factor\nfrom extra import bonus\n"
        "ap = argparse.ArgumentParser(); ap.add_argument('--lr', type=float); a = ap.parse_args()\n"
        "random.seed(0)\npm.log_metric('score', random.random() * a.lr * factor + bonus)\n"
        "print('factor', factor, 'bonus', bonus)\n",
        encoding="utf-8",
    )
    (root / "helper.py").write_text("factor = 1.0\n", encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([*GIT, "add", "."], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-qm", "init"], cwd=root, check=True)
    return root


def test_reproduce_uses_recorded_code_and_gives_identical_metrics(repo: Path) -> None:
    (repo / "helper.py").write_text("factor = 3.0\n", encoding="utf-8")  # uncommitted change
    (repo / "extra.py").write_text("bonus = 10\n", encoding="utf-8")  # untracked file the script imports
    first = run_cli("train", "train.py", "-p", "lr=0.25", "--json", cwd=repo)
    assert first.returncode == 0, first.stderr
    original = json.loads(first.stdout)
    assert original["git"]["dirty"] and "extra.py" in original["git"]["untracked"]
    # the user moves on: the working tree changes, the untracked module goes away
    (repo / "helper.py").write_text("factor = 100.0\n", encoding="utf-8")
    (repo / "extra.py").unlink()
    again = run_cli("reproduce", original["id"], "--json", cwd=repo)
    assert again.returncode == 0, again.stderr
    verdict = json.loads(again.stdout)
    assert verdict["verdict"] == "identical" and verdict["reproduced"]
    assert verdict["metrics"][0]["original"] == verdict["metrics"][0]["reproduced"]
    log = (repo / ".paddlectl" / "runs" / verdict["reproduction"] / "output.log").read_text()
    assert "factor 3.0 bonus 10" in log
    manifest = json.loads(run_cli("runs", "show", verdict["reproduction"], "--json", cwd=repo).stdout)
    assert manifest["reproduces"] == original["id"]
    assert manifest["image"]["id"] == original["image"]["id"]
    assert manifest["params"]["values"] == {"lr": 0.25}
    # the user's working tree was never touched
    assert (repo / "helper.py").read_text() == "factor = 100.0\n"
    assert not (repo / "extra.py").exists()
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=repo, capture_output=True, text=True, check=True).stdout
    assert len(worktrees.strip().splitlines()) == 1


def test_reproduce_reports_different_metrics(repo: Path) -> None:
    (repo / "train.py").write_text(
        "import random\nimport paddlectl_metrics as pm\npm.log_metric('score', random.random())\n", encoding="utf-8"
    )
    subprocess.run([*GIT, "commit", "-qam", "unseeded"], cwd=repo, check=True)
    first = run_cli("train", "train.py", "-q", cwd=repo)
    assert first.returncode == 0, first.stderr
    again = run_cli("reproduce", first.stdout.strip(), "--json", cwd=repo)
    assert again.returncode == 1
    verdict = json.loads(again.stdout)
    assert verdict["verdict"] == "different"
    assert verdict["metrics"][0]["original"] != verdict["metrics"][0]["reproduced"]
