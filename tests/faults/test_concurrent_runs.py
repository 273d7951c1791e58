"""20 `paddlectl train` runs started at once in one project: 20 complete, distinct manifests and logs.

Concurrency touches what runs share: the run store (ids, folders), the runs index, .paddlectl/image-tags.json (the
moved-tag history, under a lock) and the runtime-probe cache. The probe cache is seeded, as after a first run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_cli
from engine.train_harness import CLI_ENV, TrainProject, warm_probe_cache

pytestmark = [pytest.mark.engine, pytest.mark.slow]

RUNS = 20
SCRIPT = """\
import sys
print("argv", " ".join(sys.argv[1:]), flush=True)
seed = int(sys.argv[sys.argv.index("--seed") + 1])
print(f"epoch: 1, step: 1, loss: {seed / 100:.2f}", flush=True)
print("done", flush=True)
"""


def test_twenty_concurrent_runs_in_one_project(tmp_path: Path, paddle_image: str) -> None:
    project = TrainProject(tmp_path / "proj", paddle_image)
    project.seed_probe_cache(warm_probe_cache(paddle_image))
    (project.root / "seeded.py").write_text(SCRIPT, encoding="utf-8")
    outputs = tmp_path / "cli"
    outputs.mkdir()
    started = time.monotonic()
    processes = []
    for seed in range(RUNS):
        with open(outputs / f"{seed}.out", "wb") as stdout, open(outputs / f"{seed}.err", "wb") as stderr:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "paddlectl", "train", "--quiet", "-p", f"seed={seed}", "seeded.py"],
                    cwd=project.root,
                    env={**os.environ, **CLI_ENV},
                    stdout=stdout,
                    stderr=stderr,
                    stdin=subprocess.DEVNULL,
                )
            )
    try:
        codes = [process.wait(timeout=300) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    wall = time.monotonic() - started
    left = project.cleanup()
    print(f"\n{RUNS} concurrent runs: {wall:.1f} s wall")
    failures = {seed: (outputs / f"{seed}.err").read_text() for seed, code in enumerate(codes) if code != 0}
    assert not failures, failures
    assert not left, f"containers left behind: {left}"

    run_ids = [(outputs / f"{seed}.out").read_text().strip() for seed in range(RUNS)]
    assert len(set(run_ids)) == RUNS and sorted(run_ids) == project.run_ids()
    for seed, run_id in enumerate(run_ids):
        manifest = project.manifest(run_id)
        assert manifest["status"] == "succeeded" and manifest["exit_code"] == 0, manifest
        assert manifest["params"]["values"] == {"seed": seed}
        assert manifest["metrics"]["summary"]["loss"]["last"] == pytest.approx(seed / 100)
        assert manifest["logs"]["lines"] == 3
        assert project.log(run_id) == f"argv --seed {seed}\nepoch: 1, step: 1, loss: {seed / 100:.2f}\ndone\n"
        assert manifest["owner_pid"] is None and manifest["ended_at"]

    listing = run_cli("runs", "list", "--json", "--limit", "0", cwd=project.root)
    assert listing.returncode == 0, listing.stderr
    document = json.loads(listing.stdout)
    rows = document["runs"] if isinstance(document, dict) else document
    assert sorted(row["id"] for row in rows) == sorted(run_ids)
    assert {row["status"] for row in rows} == {"succeeded"}

    tags = json.loads((project.root / ".paddlectl" / "image-tags.json").read_text(encoding="utf-8"))
    assert paddle_image in json.dumps(tags), tags
