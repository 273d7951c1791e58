"""paddlectl image build / image ls / dev against the real engine: base, dev and prod built once for the module
from the local Paddle image, a prod image that serves a real export, and JupyterLab answering on loopback."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import REPO_ROOT, run_cli
from paddlectl.engine.oneshot import run_oneshot
from paddlectl.engine.protocol import ContainerEngine, ContainerSpec, Mount
from paddlectl.foundation.yamlio import dump_yaml, load_yaml

pytestmark = [pytest.mark.engine, pytest.mark.paddle, pytest.mark.slow]

FIXTURES = Path(__file__).parent / "fixtures"
TIMINGS: dict[str, float] = {}


def docker(*args: str, check: bool = True, timeout: float = 300) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=timeout)
    if check:
        assert result.returncode == 0, f"docker {' '.join(args)}: {result.stderr[-2000:]}"
    return result.stdout.strip()


def inspect(image: str, template: str) -> str:
    return docker("image", "inspect", "--format", template, image)


def label(image: str, name: str) -> str:
    return inspect(image, f'{{{{index .Config.Labels "{name}"}}}}')


def size(image: str) -> int:
    return int(inspect(image, "{{.Size}}"))


def timed(name: str, *args: str, cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    result = run_cli(*args, cwd=cwd, **kwargs)
    TIMINGS[name] = round(time.monotonic() - started, 2)
    print(f"\n[{name}] exit {result.returncode} in {TIMINGS[name]:.1f} s")
    return result


def stage_images() -> list[str]:
    return docker("images", "-q", "--filter", "dangling=true", "--filter", "label=io.paddlectl.stage").split()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def http(
    url: str, data: bytes | None = None, content_type: str = "application/octet-stream", method: str | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": content_type} if data is not None else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for(url: str, seconds: float) -> float:
    """Poll until the URL answers 200 (bounded); return how long it took."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            if http(url)[0] == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, paddle_image: str, docker_engine: ContainerEngine
) -> Iterator[dict[str, Any]]:
    """A project whose convnet is exported and packaged, then dev (with base) and prod built by the CLI."""
    root = tmp_path_factory.mktemp("images") / "proj"
    root.mkdir()
    name = f"imgtest{os.getpid()}"
    for fixture in ("convnet.py", "make_weights.py"):
        shutil.copy(FIXTURES / fixture, root / fixture)
    (root / "paddlectl.yaml").write_text(dump_yaml({"project": name, "images": {"cpu": paddle_image}}))
    weights = run_oneshot(
        docker_engine,
        ContainerSpec(
            image=paddle_image,
            command=["python3", "-W", "ignore", "make_weights.py", "/w"],
            mounts=[Mount(str(root), "/w")],
            working_dir="/w",
            user=f"{os.getuid()}:{os.getgid()}",
            environment={"HOME": "/tmp", "GLOG_minloglevel": "2"},
            network_mode="none",
        ),
        "export",
        timeout=300,
    )
    assert weights.exit_code == 0, weights.output
    exported = timed(
        "export",
        "export",
        "--weights",
        "model.pdparams",
        "--model",
        "convnet:build_model",
        "--input",
        "x:float32:-1,1,8,8",
        "--samples",
        "2",
        "--latency-runs",
        "2",
        "-o",
        "export",
        cwd=root,
    )
    assert exported.returncode == 0, exported.stderr
    packaged = run_cli("package", "export", "--name", "convnet", "--version", "1.0.0", "-o", "dist", cwd=root)
    assert packaged.returncode == 0, packaged.stderr
    package = root / "dist" / "convnet-1.0.0.tar"
    tags: list[str] = []
    stages_before = set(stage_images())
    try:
        dev = timed("build dev (+base)", "image", "build", "dev", "--paddle-image", paddle_image, "--json", cwd=root)
        assert dev.returncode == 0, dev.stderr[-3000:]
        layers = json.loads(dev.stdout)["layers"]
        tags += [layer["tag"] for layer in layers]
        prod = timed(
            "build prod",
            "image",
            "build",
            "prod",
            "--package",
            str(package),
            "--paddle-image",
            paddle_image,
            "--json",
            cwd=root,
        )
        assert prod.returncode == 0, prod.stderr[-3000:]
        prod_doc = json.loads(prod.stdout)["image"]
        tags.append(prod_doc["tag"])
        yield {
            "root": root,
            "project": name,
            "package": package,
            "export": root / "export",
            "base": layers[0],
            "dev": layers[1],
            "prod": prod_doc,
            "stderr": dev.stderr,
        }
    finally:
        run_cli("dev", "--stop", cwd=root)
        for container in docker("ps", "-aq", "--filter", f"label=io.paddlectl.test={name}", check=False).split():
            docker("rm", "-f", container, check=False)
        if tags:
            docker("rmi", "-f", *tags, check=False)
        leftover = sorted(set(stage_images()) - stages_before)  # the classic builder keeps each stage's image
        if leftover:
            docker("rmi", "-f", *leftover, check=False)
        print(f"\n[timings] {json.dumps(TIMINGS)}")


def test_builds_are_tagged_by_content_recorded_and_listed(built: dict[str, Any], paddle_image: str) -> None:
    base, dev, prod = built["base"], built["dev"], built["prod"]
    project = built["project"]
    assert base["tag"] == f"{project}/paddle-base:3.2.0-{base['inputs_hash'][:12]}"
    assert dev["tag"] == f"{project}/paddle-dev:3.2.0-{dev['inputs_hash'][:12]}"
    assert prod["tag"] == f"{project}/paddle-prod:convnet-1.0.0-{prod['inputs_hash'][:12]}"
    for image in (base, dev, prod):
        assert image["id"] == inspect(image["tag"], "{{.Id}}") and image["size"] == size(image["tag"])
        assert label(image["tag"], "io.paddlectl.inputs-hash") == image["inputs_hash"]
        assert ":latest" not in image["tag"]
    assert base["inputs"]["python"] == "3.11" and base["inputs"]["platform"] == "manylinux_2_36_x86_64"
    assert "Step " in built["stderr"], "the build's progress went to stderr"
    records = load_yaml((built["root"] / ".paddlectl" / "images.yaml").read_text(), "images.yaml")["images"]
    assert sorted(r["tag"] for r in records) == sorted(i["tag"] for i in (base, dev, prod))
    listed = run_cli("image", "ls", "--json", cwd=built["root"])
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)["images"]
    assert {(row["role"], row["state"]) for row in rows} == {
        ("base", "present"),
        ("dev", "present"),
        ("prod", "present"),
    }
    table = run_cli("image", "ls", cwd=built["root"])
    assert all(image["tag"] in table.stdout for image in (base, dev, prod))


def test_labels_say_what_each_layer_stands_on(built: dict[str, Any], paddle_image: str) -> None:
    base, dev, prod = built["base"]["tag"], built["dev"]["tag"], built["prod"]["tag"]
    paddle_id = inspect(paddle_image, "{{.Id}}")
    assert label(base, "org.opencontainers.image.base.name") == paddle_image
    assert label(base, "io.paddlectl.base.id") == paddle_id
    assert label(base, "io.paddlectl.paddle-version") == "3.2.0"
    assert label(base, "org.opencontainers.image.created").endswith("Z")
    assert label(dev, "org.opencontainers.image.base.name") == base
    assert label(dev, "io.paddlectl.base.id") == built["base"]["id"]
    sha = hashlib.sha256(built["package"].read_bytes()).hexdigest()
    assert label(prod, "io.paddlectl.package.sha256") == sha
    assert label(prod, "org.opencontainers.image.base.name") == paddle_image
    for tag, role in ((base, "base"), (dev, "dev"), (prod, "prod")):
        assert label(tag, "io.paddlectl.role") == role


def test_unchanged_inputs_reuse_the_tag_quickly(built: dict[str, Any], paddle_image: str) -> None:
    again = timed(
        "rebuild dev (+base), unchanged",
        "image",
        "build",
        "dev",
        "--paddle-image",
        paddle_image,
        "--json",
        cwd=built["root"],
    )
    assert again.returncode == 0, again.stderr
    layers = json.loads(again.stdout)["layers"]
    assert [layer["reused"] for layer in layers] == [True, True]
    assert [(layer["tag"], layer["id"]) for layer in layers] == [
        (built["base"]["tag"], built["base"]["id"]),
        (built["dev"]["tag"], built["dev"]["id"]),
    ]
    assert "Step " not in again.stderr, "nothing was sent to the builder"
    assert TIMINGS["rebuild dev (+base), unchanged"] < 15


def test_every_image_runs_as_a_non_root_user(built: dict[str, Any]) -> None:
    for role in ("base", "dev", "prod"):
        uid = docker("run", "--rm", built[role]["tag"], "id", "-u")
        assert uid == "1000", f"{role} runs as uid {uid}"


def test_sizes_prod_adds_only_the_model_and_dev_adds_the_tools(built: dict[str, Any], paddle_image: str) -> None:
    paddle, base, dev, prod = (
        size(paddle_image),
        size(built["base"]["tag"]),
        size(built["dev"]["tag"]),
        size(built["prod"]["tag"]),
    )
    package = built["package"].stat().st_size
    print(
        f"\n[sizes] paddle {paddle} base {base} (+{base - paddle}) dev {dev} (+{dev - base} over base) "
        f"prod {prod} (+{prod - paddle} over paddle; package {package})"
    )
    assert prod <= base, "prod carries none of base's extra packages"
    assert prod - paddle <= package + 64 * 1024, "prod adds the model, its entrypoint and a user, nothing else"
    assert 0 < base - paddle < 20 * 1024**2, "base adds only the locked runtime packages"
    assert dev - base > 50 * 1024**2, "dev adds JupyterLab and the tools"
    assert dev - prod > 50 * 1024**2


def test_prod_adds_no_tools_caches_or_wheels(built: dict[str, Any], paddle_image: str) -> None:
    listing = "ls /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin 2>/dev/null | sort -u"
    prod = built["prod"]["tag"]
    in_prod = docker("run", "--rm", "--entrypoint", "sh", prod, "-c", listing)
    in_paddle = docker("run", "--rm", paddle_image, "sh", "-c", listing)
    assert in_prod == in_paddle, "prod puts no executable on the PATH"
    leftovers = (
        "find / -xdev \\( -name '*.whl' -o -path '*/.cache/pip' -o -name '*jupyter*' -o -name '*ipdb*' "
        "-o -name '*py_spy*' -o -name '*.tar' -o -path '/tmp/*' \\) 2>/dev/null | sort; for m in "
        'jupyterlab IPython ipdb yaml tqdm; do python3 -c "import $m" 2>/dev/null && echo $m; done; true'
    )
    found_in_prod = docker("run", "--rm", "--entrypoint", "sh", prod, "-c", leftovers)
    # the same wheels, caches, notebooks and modules as the Paddle image itself: prod added none
    assert found_in_prod == docker("run", "--rm", paddle_image, "sh", "-c", leftovers)
    assert "jupyterlab" not in found_in_prod and "/tmp/paddlectl" not in found_in_prod
    dev_tools = docker(
        "run",
        "--rm",
        built["dev"]["tag"],
        "sh",
        "-c",
        "for t in jupyter ipdb3 py-spy; do command -v $t; done; python3 -c 'import ipdb, yaml, tqdm'",
    )
    assert [Path(line).name for line in dev_tools.splitlines()] == ["jupyter", "ipdb3", "py-spy"]


def test_prod_predicts_the_exports_recorded_outputs_from_npz(built: dict[str, Any], tmp_path: Path) -> None:
    io_dir = tmp_path / "io"
    io_dir.mkdir()
    shutil.copy(built["export"] / "samples.npz", io_dir / "samples.npz")
    user = f"{os.getuid()}:{os.getgid()}"
    output = docker(
        "run",
        "--rm",
        "--user",
        user,
        "-v",
        f"{io_dir}:/data",
        built["prod"]["tag"],
        "predict",
        "/data/samples.npz",
        "/data/pred.npz",
    )
    assert output == ""  # the summary goes to stderr
    with np.load(io_dir / "samples.npz") as samples, np.load(io_dir / "pred.npz") as predicted:
        names = [key[len("output/") :] for key in samples.files if key.startswith("output/")]
        assert names and sorted(predicted.files) == sorted(names)
        for name in names:
            np.testing.assert_allclose(predicted[name], samples[f"output/{name}"], rtol=1e-6, atol=1e-6)
    assert (io_dir / "pred.npz").stat().st_uid == os.getuid()


def test_prod_serves_http_on_loopback_with_a_healthcheck(built: dict[str, Any]) -> None:
    port = free_port()
    container = docker(
        "run",
        "-d",
        "-p",
        f"127.0.0.1:{port}:8080",
        "--label",
        f"io.paddlectl.test={built['project']}",
        built["prod"]["tag"],
    )
    try:
        ready = wait_for(f"http://127.0.0.1:{port}/health", 60)
        print(f"\n[prod http] /health answered after {ready:.2f} s")
        samples_path = built["export"] / "samples.npz"
        with np.load(samples_path) as samples:
            expected = {key[len("output/") :]: samples[key] for key in samples.files if key.startswith("output/")}
            x = samples["input/x"]
        status, body = http(f"http://127.0.0.1:{port}/predict", samples_path.read_bytes())
        assert status == 200
        with np.load(io.BytesIO(body)) as answer:
            for name, value in expected.items():
                np.testing.assert_allclose(answer[name], value, rtol=1e-6, atol=1e-6)
        status, body = http(
            f"http://127.0.0.1:{port}/predict", json.dumps({"inputs": {"x": x.tolist()}}).encode(), "application/json"
        )
        assert status == 200
        for name, value in expected.items():
            np.testing.assert_allclose(np.array(json.loads(body)["outputs"][name]), value, rtol=1e-6, atol=1e-6)
        status, body = http(f"http://127.0.0.1:{port}/predict", b'{"inputs": {"y": [1]}}', "application/json")
        assert status == 400 and "missing input 'x'" in json.loads(body)["error"]
        status, body = http(f"http://127.0.0.1:{port}/predict", b"not an npz")
        assert status == 400
        status, body = http(f"http://127.0.0.1:{port}/metadata")
        assert json.loads(body)["outputs"] == list(expected)
        health = subprocess.run(
            ["docker", "exec", container, "python3", "/opt/paddlectl/serve.py", "health"],
            check=False,
            capture_output=True,
        )
        assert health.returncode == 0
        assert "serve.py" in docker("inspect", "--format", "{{json .Config.Healthcheck.Test}}", container)
        started = time.monotonic()
        docker("stop", "-t", "10", container)
        assert time.monotonic() - started < 5, "SIGTERM stops the server (PID 1 handles it)"
        assert docker("inspect", "--format", "{{.State.ExitCode}}", container) == "0"
    finally:
        docker("rm", "-f", container, check=False)


def test_dev_jupyterlab_answers_on_loopback_with_its_token(built: dict[str, Any]) -> None:
    root = built["root"]
    started = timed("dev start", "dev", "--json", cwd=root)
    assert started.returncode == 0, started.stderr
    session = json.loads(started.stdout)
    try:
        base_url = f"http://127.0.0.1:{session['port']}"
        assert session["url"] == f"{base_url}/lab?token={session['token']}"
        assert http(f"{base_url}/api?token={session['token']}")[0] == 200
        assert http(f"{base_url}/api/contents?token=wrong")[0] == 403
        status, body = http(f"{base_url}/api/contents?token={session['token']}")
        assert status == 200 and "convnet.py" in {item["name"] for item in json.loads(body)["content"]}
        note = json.dumps({"type": "file", "format": "text", "content": "hello"}).encode()
        status, _ = http(
            f"{base_url}/api/contents/from-jupyter.txt?token={session['token']}", note, "application/json", method="PUT"
        )
        assert status == 201
        written = root / "from-jupyter.txt"
        assert written.read_text() == "hello" and written.stat().st_uid == os.getuid()
        ports = docker("inspect", "--format", "{{json .HostConfig.PortBindings}}", session["container_id"])
        assert json.loads(ports) == {"8888/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(session["port"])}]}
        again = run_cli("dev", cwd=root)
        assert again.returncode == 0 and again.stdout.strip() == session["url"]
        assert "already running" in again.stderr
    finally:
        stopped = run_cli("dev", "--stop", "--json", cwd=root)
    assert stopped.returncode == 0 and json.loads(stopped.stdout)["stopped"] == [session["container_id"]]
    assert docker("ps", "-aq", "--filter", f"label=io.paddlectl.dev={built['project']}") == ""


def test_a_failing_step_is_one_line_naming_the_step(built: dict[str, Any], paddle_image: str, tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    shutil.copytree(REPO_ROOT / "images", sources / "images")
    text = (REPO_ROOT / "Dockerfile.base").read_text()
    broken = text.replace(
        "FROM ${PADDLE_IMAGE} AS install\n",
        "FROM ${PADDLE_IMAGE} AS install\nRUN echo boom-from-the-build >&2 && exit 3\n",
        1,
    )
    assert broken != text
    (sources / "Dockerfile.base").write_text(broken)
    result = run_cli(
        "image",
        "build",
        "base",
        "--paddle-image",
        paddle_image,
        cwd=built["root"],
        env={"PADDLECTL_IMAGES_DIR": str(sources)},
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-2000:]
    instructions = [line for line in broken.splitlines() if line[:1].isupper()]  # the builder counts each one
    step = 1 + instructions.index("RUN echo boom-from-the-build >&2 && exit 3")
    assert f"failed at step {step}/" in errors[0] and "(RUN echo boom-from-the-build" in errors[0]
    assert "returned a non-zero code: 3" in errors[0] and "(last output: boom-from-the-build)" in errors[0]
    assert result.stdout == ""


def test_a_tampered_package_never_reaches_the_builder(built: dict[str, Any], paddle_image: str, tmp_path: Path) -> None:
    tampered = tmp_path / "convnet-1.0.0.tar"
    shutil.copy(built["package"], tampered)
    with tarfile.open(tampered) as archive:
        offset = archive.getmember("model.pdiparams").offset_data
    data = bytearray(tampered.read_bytes())
    data[offset + 100] ^= 1
    tampered.write_bytes(bytes(data))
    result = run_cli(
        "image", "build", "prod", "--package", str(tampered), "--paddle-image", paddle_image, cwd=built["root"]
    )
    assert result.returncode == 4, result.stderr
    assert "model.pdiparams" in result.stderr and "Step " not in result.stderr
