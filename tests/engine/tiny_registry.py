"""A read-only Docker registry (API v2) on 127.0.0.1 serving one tiny image, for tests that need a pull to work.

The engine treats 127.0.0.0/8 registries as insecure (plain HTTP) by default, so `docker pull 127.0.0.1:PORT/...`
reaches it; nothing leaves the machine. The image is one layer holding one text file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _tiny_image() -> tuple[bytes, dict[str, bytes]]:
    """The manifest and the blobs (config, layer) of a one-file image."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        data = b"served by the paddlectl test registry\n"
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    layer_tar = raw.getvalue()
    layer = gzip.compress(layer_tar, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer_tar)]},
            "history": [{"created_by": "paddlectl test registry"}],
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": _digest(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(layer),
                    "digest": _digest(layer),
                }
            ],
        }
    ).encode()
    return manifest, {_digest(config): config, _digest(layer): layer}


class TinyRegistry:
    """Serves every repository and tag with the same tiny image; `stop()` shuts it down."""

    def __init__(self) -> None:
        manifest, blobs = _tiny_image()
        self.requests: list[str] = []
        registry = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, body: bytes, content_type: str, digest: str | None = None) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Docker-Distribution-API-Version", "registry/2.0")
                if digest:
                    self.send_header("Docker-Content-Digest", digest)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self) -> None:
                registry.requests.append(f"{self.command} {self.path}")
                if self.path == "/v2/":
                    self._send(b"{}", "application/json")
                elif "/manifests/" in self.path:
                    self._send(manifest, MANIFEST_TYPE, _digest(manifest))
                elif "/blobs/" in self.path and self.path.rsplit("/", 1)[1] in blobs:
                    digest = self.path.rsplit("/", 1)[1]
                    self._send(blobs[digest], "application/octet-stream", digest)
                else:
                    self.send_response(404)
                    self.end_headers()

            do_HEAD = do_GET

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="tiny-registry", daemon=True)
        self._thread.start()

    def reference(self, repository: str = "paddlectl-test/tiny", tag: str = "1.0") -> str:
        return f"127.0.0.1:{self.port}/{repository}:{tag}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
