"""A run's artifacts wherever the MLflow server keeps them (the run's `artifact_uri`): upload, download, delete.

- `mlflow-artifacts:/...` (a server started with artifact serving, the usual team set-up, whatever store sits
  behind it: S3, GCS, a disk) and `http(s)://` artifact URIs: a PUT per file to the server, with the client's
  auth and retries.
- a plain folder or `file://` (a server started with `--default-artifact-root DIR`): the file is copied there,
  as MLflow's own client does. That only reaches the server when the folder is on this machine or a shared mount.
- any other scheme (s3://, gs://, wasbs://, hdfs://, ...): the MLflow client library writes it with the store's
  own credentials; it comes with `pip install 'paddlectl[mlflow]'`.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import quote, unquote, urlparse

from paddlectl.errors import PaddlectlError, UnavailableError
from paddlectl.mlflowapi.client import ARTIFACTS_API, TrackingClient

INSTALL_HINT = "pip install 'paddlectl[mlflow]'"
CHUNK = 1 << 20


class ArtifactStore(Protocol):
    def upload(self, source: Path | bytes, path: str) -> None:
        """Write `source` (a file, or bytes) at `path` inside the run's artifacts, replacing what is there."""
        ...

    def download(self, path: str, dest: Path) -> bool:
        """Copy the file at `path` into `dest` (a new file); False when the store has no such file."""
        ...

    def delete(self, path: str) -> None:
        """Remove the file or folder at `path`; nothing when it is not there."""
        ...


def store_for(artifact_uri: str, client: TrackingClient) -> ArtifactStore:
    """The store behind a run's artifact URI; raises UnavailableError when it needs the missing MLflow client."""
    parsed = urlparse(artifact_uri)
    if parsed.scheme == "mlflow-artifacts":
        host = client.base if not parsed.netloc else f"{urlparse(client.base).scheme}://{parsed.netloc}"
        base = host + ARTIFACTS_API
        return HttpStore(client, base, parsed.path)
    if parsed.scheme in ("http", "https"):
        return HttpStore(client, f"{parsed.scheme}://{parsed.netloc}", parsed.path)
    if parsed.scheme in ("", "file"):
        return FolderStore(Path(unquote(parsed.path) if parsed.scheme else artifact_uri))
    return ClientLibraryStore(artifact_uri)


class HttpStore:
    """Artifacts the tracking server itself serves: one PUT per file."""

    def __init__(self, client: TrackingClient, base: str, root: str) -> None:
        self.client = client
        self.base = base
        self.root = root.strip("/")

    def upload(self, source: Path | bytes, path: str) -> None:
        url_path = quote(f"/{self.root}/{path}")

        def body() -> IO[bytes]:
            if isinstance(source, bytes):
                return io.BytesIO(source)
            return source.open("rb")  # streamed: a large file never sits in memory

        self.client.request("PUT", url_path, data=body, content_type="application/octet-stream", base=self.base)

    def download(self, path: str, dest: Path) -> bool:
        from paddlectl.mlflowapi.client import MlflowRequestError

        try:
            response = self.client.request("GET", quote(f"/{self.root}/{path}"), base=self.base, stream=True)
        except (MlflowRequestError, UnavailableError) as error:
            if _not_found(error):
                return False
            raise
        with response, dest.open("wb") as out:
            for chunk in response.iter_content(CHUNK):
                out.write(chunk)
        return True

    def delete(self, path: str) -> None:
        from paddlectl.mlflowapi.client import MlflowRequestError

        try:
            self.client.request("DELETE", quote(f"/{self.root}/{path}"), base=self.base)
        except (MlflowRequestError, UnavailableError) as error:
            if not _not_found(error):
                raise


def _not_found(error: PaddlectlError) -> bool:
    return getattr(error, "status", None) == 404 or "RESOURCE_DOES_NOT_EXIST" in error.message


class FolderStore:
    """A server whose artifact root is a plain folder: copy the file in (temporary name, then rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def upload(self, source: Path | bytes, path: str) -> None:
        target = self.root / path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=".paddlectl-", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    if isinstance(source, bytes):
                        handle.write(source)
                if not isinstance(source, bytes):
                    shutil.copyfile(source, temporary)  # sendfile(2): no copy through Python
                os.chmod(temporary, 0o644)
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise PaddlectlError(
                f"cannot write artifact {path} into the server's artifact folder {self.root}: {exc.strerror}",
                hint="the server keeps artifacts in a plain folder; it must be writable from here "
                "(or let the server serve its artifacts: 'mlflow server --artifacts-destination DIR')",
            ) from exc

    def download(self, path: str, dest: Path) -> bool:
        source = self.root / path
        if not source.is_file():
            return False
        try:
            shutil.copyfile(source, dest)
        except OSError as exc:
            raise PaddlectlError(
                f"cannot read artifact {path} from the server's artifact folder {self.root}: {exc.strerror}",
                hint="the server keeps artifacts in a plain folder; it must be readable from here",
            ) from exc
        return True

    def delete(self, path: str) -> None:
        target = self.root / path
        try:
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
        except OSError as exc:
            raise PaddlectlError(
                f"cannot delete artifact {path} in the server's artifact folder {self.root}: {exc.strerror}",
                hint="the server keeps artifacts in a plain folder; it must be writable from here",
            ) from exc


class ClientLibraryStore:
    """Object stores and others only a client can write: MLflow's own artifact repositories do it."""

    def __init__(self, artifact_uri: str) -> None:
        try:
            from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
        except ImportError:
            scheme = urlparse(artifact_uri).scheme
            raise UnavailableError(
                f"the MLflow server keeps this run's artifacts at {scheme}://, which needs the MLflow client library",
                hint=INSTALL_HINT,
            ) from None
        self.uri = artifact_uri
        self.repository: Any = get_artifact_repository(artifact_uri)  # untyped in MLflow

    def upload(self, source: Path | bytes, path: str) -> None:
        directory, _, name = path.rpartition("/")
        try:
            if isinstance(source, Path) and source.name == name:
                self.repository.log_artifact(str(source), artifact_path=directory or None)
                return
            with tempfile.TemporaryDirectory(prefix="paddlectl-artifact-") as scratch:
                staged = Path(scratch) / name
                if isinstance(source, bytes):
                    staged.write_bytes(source)
                else:
                    shutil.copyfile(source, staged)
                self.repository.log_artifact(str(staged), artifact_path=directory or None)
        except PaddlectlError:
            raise
        except Exception as exc:  # the store's own errors (botocore, google.api_core, ...): one line
            raise self._error("upload", path, exc) from exc

    def download(self, path: str, dest: Path) -> bool:
        directory = path.rpartition("/")[0]
        try:
            listed = {entry.path for entry in self.repository.list_artifacts(directory or None)}
            if path not in listed:
                return False
            with tempfile.TemporaryDirectory(prefix="paddlectl-artifact-", dir=dest.parent) as scratch:
                local = self.repository.download_artifacts(path, dst_path=scratch)
                os.replace(local, dest)
        except PaddlectlError:
            raise
        except Exception as exc:
            raise self._error("download", path, exc) from exc
        return True

    def delete(self, path: str) -> None:
        try:
            self.repository.delete_artifacts(path)
        except PaddlectlError:
            raise
        except Exception as exc:
            raise self._error("delete", path, exc) from exc

    def _error(self, doing: str, path: str, exc: Exception) -> UnavailableError:
        return UnavailableError(
            f"cannot {doing} artifact {path} at {self.uri}: {type(exc).__name__}: {exc}".splitlines()[0],
            hint="check the artifact store's credentials (for S3: AWS_* variables, MLFLOW_S3_ENDPOINT_URL)",
        )
