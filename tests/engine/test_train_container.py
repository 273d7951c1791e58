"""`paddlectl train` against the real engine: users and file ownership, GPUs without a runtime, exit codes, OOM,
moved tags, distributed workers and shared memory.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import IN_CI
from engine.train_harness import (
    NON_ROOT_USER,
    PROJECT_LABEL,
    RUN_LABEL,
    Cli,
    TrainProject,
    as_user_prefix,
    docker,
    ensure_docker_user,
    labelled_containers,
    python_for_user,
    run_train,
    warm_probe_cache,
)

pytestmark = pytest.mark.engine


def _only_run(project: TrainProject) -> tuple[str, dict[str, object]]:
    [run_id] = project.run_ids()
    return run_id, project.manifest(run_id)


def test_files_on_mounts_belong_to_the_invoking_user(tmp_path: Path, paddle_image: str) -> None:
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("CI must run this as root: it creates a non-root user to run paddlectl as")
        pytest.skip("needs root to create the non-root user it runs paddlectl as")
    uid, gid, home = ensure_docker_user()
    python, env = python_for_user()
    import tempfile

    holder = Path(tempfile.mkdtemp(prefix="pdctl-user-"))  # pytest's tmp_path is root-only (0700)
    try:
        project = TrainProject(holder / "proj", paddle_image)
        project.seed_probe_cache(warm_probe_cache(paddle_image))
        subprocess.run(["chown", "-R", f"{uid}:{gid}", str(holder)], check=True)
        cli = Cli(
            ["train", "write_files.py"],
            project.root,
            prefix=as_user_prefix(),
            python=python,
            env={**env, "HOME": str(home), "USER": NON_ROOT_USER, "LOGNAME": NON_ROOT_USER},
        )
        try:
            code = cli.wait(120)
            assert code == 0, cli.describe()
        finally:
            cli.close()
        run_id, manifest = _only_run(project)
        assert manifest["container"]["user"] == f"{uid}:{gid}"  # type: ignore[index]
        log_lines = project.log(run_id).splitlines()
        assert f"uid={uid} gid={gid}" in log_lines
        assert any(line.startswith("HOME ") and line.endswith(": home ok") for line in log_lines), log_lines
        run_dir = project.runs_dir / run_id
        written = run_dir / "outputs" / "owned.txt"
        assert written.read_text(encoding="utf-8") == f"written by uid {uid} gid {gid}\n"
        not_theirs = [
            (str(path.relative_to(run_dir)), path.stat().st_uid, path.stat().st_gid)
            for path in [run_dir, *run_dir.rglob("*")]
            if (path.stat().st_uid, path.stat().st_gid) != (uid, gid)
        ]
        assert not_theirs == [], f"files in the run folder not owned by {uid}:{gid}"
        assert manifest["status"] == "succeeded"
    finally:
        left = labelled_containers(PROJECT_LABEL, project.name)
        if left:
            docker("rm", "-f", *left, check=False)
        subprocess.run(["rm", "-rf", str(holder)], check=False)
        assert not left, f"containers left behind: {left}"


def _engine_has_nvidia() -> bool:
    return "nvidia" in docker("info", "--format", "{{json .Runtimes}}")


@pytest.mark.parametrize("gpus", ["all", "0"])
def test_gpus_without_nvidia_runtime_is_one_clear_error(project: TrainProject, gpus: str) -> None:
    if _engine_has_nvidia():
        pytest.skip("this engine has the NVIDIA runtime; the test is about one without it")
    result = run_train(project, "--gpus", gpus, "hello.py", timeout=60)

    assert result.returncode == 3, result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "NVIDIA" in error_lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert labelled_containers(PROJECT_LABEL, project.name) == []
    running = [run for run in project.run_ids() if project.manifest(run)["status"] == "running"]
    assert running == []


def test_failed_gpu_start_leaves_no_container(project: TrainProject, paddle_image: str, docker_engine: object) -> None:
    """Below the CLI's early check: a start that fails for want of a GPU driver removes the created container."""
    from paddlectl.engine.gpus import GpuRequest
    from paddlectl.engine.protocol import ContainerSpec
    from paddlectl.errors import PaddlectlError
    from paddlectl.train.runner import run_container

    if _engine_has_nvidia():
        pytest.skip("this engine has the NVIDIA runtime; the test is about one without it")
    run_id = f"gpu-{uuid.uuid4().hex[:8]}"
    spec = ContainerSpec(
        image=paddle_image, command=["true"], labels={RUN_LABEL: run_id, PROJECT_LABEL: project.name}, gpus=GpuRequest()
    )
    with pytest.raises(PaddlectlError, match="NVIDIA") as raised:
        run_container(docker_engine, spec, log_path=project.root / "gpu.log")  # type: ignore[arg-type]
    assert int(raised.value.code) == 3
    assert labelled_containers(RUN_LABEL, run_id) == []


def test_script_exit_code_and_stderr_are_kept(project: TrainProject) -> None:
    result = run_train(project, "fail_code.py", timeout=120)

    assert result.returncode == 3, result.stderr
    run_id, manifest = _only_run(project)
    assert manifest["status"] == "failed"
    assert manifest["exit_code"] == 3
    assert "exited with code 3" in str(manifest["reason"])
    log_lines = project.log(run_id).splitlines()
    assert "to stdout before failing" in log_lines
    assert "to stderr before failing" in log_lines
    assert labelled_containers(RUN_LABEL, run_id) == []


def test_memory_limit_oom_is_recorded(project: TrainProject) -> None:
    result = run_train(project, "--memory", "64m", "hog_memory.py", timeout=120)

    run_id, manifest = _only_run(project)
    assert result.returncode != 0, result.stderr
    assert manifest["status"] == "failed", manifest
    assert manifest["oom_killed"] is True, manifest
    assert "OOMKilled" in str(manifest["reason"])
    assert manifest["container"]["mem_limit"] == "64m"  # type: ignore[index]
    assert result.returncode == manifest["exit_code"] == 137
    log_lines = project.log(run_id).splitlines()
    assert "allocated 10 MB" in log_lines
    assert "allocated everything" not in log_lines
    assert labelled_containers(RUN_LABEL, run_id) == []


def test_moved_tag_is_reported(project: TrainProject, paddle_image: str) -> None:
    tag = f"pdctl-moving/img:t{os.getpid()}-{uuid.uuid4().hex[:6]}"
    debian = "paddlectl-test/debian:bookworm-minbase"
    first_id = docker("image", "inspect", "-f", "{{.Id}}", debian).strip()
    second_id = docker("image", "inspect", "-f", "{{.Id}}", paddle_image).strip()
    try:
        docker("tag", debian, tag)
        first = run_train(project, "--image", tag, "hello.py", timeout=120)
        assert first.returncode == 0, first.stderr
        assert "TAG MOVED" not in first.stderr
        docker("tag", paddle_image, tag)
        second = run_train(project, "--image", tag, "hello.py", timeout=120)
    finally:
        docker("rmi", tag, check=False)
    assert second.returncode == 0, second.stderr
    moved = [line for line in second.stderr.splitlines() if "TAG MOVED" in line]
    assert moved and tag in moved[0], second.stderr

    first_run, second_run = project.run_ids()
    first_manifest, second_manifest = project.manifest(first_run), project.manifest(second_run)
    assert first_manifest["image"]["id"] == first_id
    assert first_manifest["image"]["moved_from"] is None
    assert "paddle_error" in first_manifest["runtime"], first_manifest["runtime"]  # no Paddle in plain Debian
    assert first_manifest["status"] == "succeeded"
    assert second_manifest["image"]["id"] == second_id
    assert second_manifest["image"]["moved_from"] == first_id
    assert second_manifest["runtime"].get("paddle_version")


@pytest.mark.paddle
@pytest.mark.slow
def test_nproc2_runs_two_gloo_workers(project: TrainProject) -> None:
    result = run_train(project, "--nproc", "2", "dist_allreduce.py", timeout=300)

    assert result.returncode == 0, result.stderr[-3000:]
    run_id, manifest = _only_run(project)
    assert manifest["status"] == "succeeded"
    assert manifest["container"]["nproc"] == 2  # type: ignore[index]
    argv = manifest["command"]["argv"]  # type: ignore[index]
    assert argv[:3] == ["python3", "-m", "paddle.distributed.launch"]
    assert "rank 0 of 2 reduced 3.0" in project.log(run_id).splitlines()  # rank 0 is echoed by the launcher
    workers = project.runs_dir / run_id / "container" / "workers"
    assert "rank 0 of 2 reduced 3.0" in (workers / "workerlog.0").read_text(encoding="utf-8")
    assert "rank 1 of 2 reduced 3.0" in (workers / "workerlog.1").read_text(encoding="utf-8")
    assert {"workerlog.0", "workerlog.1"} <= set(manifest["logs"]["workers"])  # type: ignore[index]


@pytest.mark.paddle
@pytest.mark.slow
def test_nproc2_failing_worker_fails_the_run_with_its_code(project: TrainProject) -> None:
    result = run_train(project, "--nproc", "2", "-e", "FAIL_RANK=1", "dist_allreduce.py", timeout=300)

    run_id, manifest = _only_run(project)
    assert result.returncode == 3, result.stderr[-3000:]
    assert manifest["status"] == "failed"
    assert manifest["exit_code"] == 3  # paddle.distributed.launch exits with the failing worker's code
    worker1 = (project.runs_dir / run_id / "container" / "workers" / "workerlog.1").read_text(encoding="utf-8")
    assert "rank 1 failing on purpose" in worker1


@pytest.mark.paddle
def test_dataloader_workers_pass_big_batches_with_default_shm(project: TrainProject) -> None:
    result = run_train(project, "dataloader_shm.py", timeout=300)

    assert result.returncode == 0, result.stderr[-3000:]
    run_id, manifest = _only_run(project)
    assert manifest["container"]["shm_size"] == "2g"  # type: ignore[index]
    log_lines = project.log(run_id).splitlines()
    assert "batch 0 shape [2, 3, 2048, 2048] mean 0.5" in log_lines
    assert "batch 1 shape [2, 3, 2048, 2048] mean 2.5" in log_lines


@pytest.mark.paddle
@pytest.mark.slow
def test_dataloader_fails_with_small_shm(project: TrainProject) -> None:
    """The control for the test above: with Docker's old 64 MB /dev/shm the same script dies."""
    result = run_train(project, "--shm-size", "64m", "dataloader_shm.py", timeout=300)

    run_id, manifest = _only_run(project)
    assert result.returncode != 0
    assert manifest["status"] == "failed"
    log = project.log(run_id)
    assert "BUS error" in log, log[-3000:]
    assert "dataloader done" not in log


@pytest.mark.parametrize("detach", [False, True], ids=["attached", "detached"])
def test_refused_container_leaves_no_run_behind(project: TrainProject, detach: bool) -> None:
    """The engine refuses the container (memory below its 6 MB minimum): one error, no run folder, no container."""
    result = run_train(project, *(["--detach"] if detach else []), "--memory", "1m", "hello.py", timeout=60)

    assert result.returncode == 3, result.stderr
    assert "Minimum memory limit" in result.stderr
    assert "Traceback" not in result.stderr
    assert project.run_ids() == []
    assert labelled_containers(PROJECT_LABEL, project.name) == []


def test_interleaved_stdout_and_stderr_lines_stay_whole(project: TrainProject) -> None:
    """Every line once and whole, even when stdout and stderr lines alternate as fast as Python can print them."""
    count = 2000
    result = run_train(project, "--quiet", "interleave.py", str(count), timeout=120)

    assert result.returncode == 0, result.stderr
    run_id, manifest = _only_run(project)
    log_lines = project.log(run_id).splitlines()
    assert [line for line in log_lines if not line.startswith("err ")] == [
        *(f"out {index:05d} " + "o" * 40 for index in range(count)),
        "done",
    ]
    assert [line for line in log_lines if line.startswith("err ")] == [
        f"err {index:05d} " + "e" * 40 for index in range(count)
    ]
    assert manifest["logs"]["lines"] == 2 * count + 1  # type: ignore[index]


def test_ulimit_the_daemon_refuses_is_a_warning(tmp_path: Path, paddle_image: str) -> None:
    """GPU runs ask for unlimited memlock; a daemon that refuses it (this one does) must not fail the run."""
    from paddlectl.engine.docker_engine import connect
    from paddlectl.engine.protocol import ContainerSpec, Ulimit
    from paddlectl.train.runner import run_container, start_detached

    engine = connect()
    spec = ContainerSpec(
        image=paddle_image,
        command=["python3", "-c", "print('ran')"],
        labels={"io.paddlectl.test": "ulimit"},
        ulimits=[Ulimit("memlock", -1, -1)],
    )
    warnings: list[str] = []
    result = run_container(engine, spec, log_path=tmp_path / "log", on_warning=warnings.append)
    result.finish_cleanup()
    assert result.state is not None and result.state.exit_code == 0
    assert (tmp_path / "log").read_text() == "ran\n"
    assert warnings == [] or "memlock" in warnings[0]
    detached = start_detached(engine, spec, warnings.append)
    try:
        assert detached.wait().exit_code == 0
    finally:
        detached.remove()
    assert not engine.containers({"io.paddlectl.test": "ulimit"})
