"""A forwarding HTTP proxy on 127.0.0.1 that lets a test act at one exact request: hold it, or kill the client.

`before(request)` runs when a request has arrived and before it goes on to the server; `after(request)` runs
when the server has answered and before the answer goes back. Either may block (hold the client) or kill it.
Bodies are read whole, so what reaches the server is always a complete request.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class SeenRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Hook = Callable[[SeenRequest], None]


class ForwardingProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.seen: list[SeenRequest] = []
        self.before: Hook | None = None
        self.after: Hook | None = None
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = SeenRequest(self.command, self.path, dict(self.headers.items()), body)
                with proxy._lock:
                    proxy.seen.append(seen)
                if not self._hook(proxy.before, seen):
                    return
                request = urllib.request.Request(
                    proxy.upstream + self.path, data=body if body or self.command in ("POST", "PUT") else None,
                    method=self.command,
                )  # fmt: skip
                for name in ("Content-Type", "Authorization"):
                    if name in self.headers:
                        request.add_header(name, self.headers[name])
                try:
                    with urllib.request.urlopen(request, timeout=60) as response:
                        status, content, kind = response.status, response.read(), response.headers.get("Content-Type")
                except urllib.error.HTTPError as error:
                    status, content, kind = error.code, error.read(), error.headers.get("Content-Type")
                if not self._hook(proxy.after, seen):
                    return
                self.send_response(status)
                self.send_header("Content-Length", str(len(content)))
                if kind:
                    self.send_header("Content-Type", kind)
                self.end_headers()
                self.wfile.write(content)

            def _hook(self, hook: Hook | None, seen: SeenRequest) -> bool:
                """Run a hook; one that raises ConnectionAbortedError drops the request (no answer at all)."""
                if hook is None:
                    return True
                try:
                    hook(seen)
                except ConnectionAbortedError:
                    self.close_connection = True
                    return False
                return True

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="test-proxy", daemon=True)

    def count(self, method: str, fragment: str) -> int:
        with self._lock:
            return sum(1 for seen in self.seen if seen.method == method and fragment in seen.path)


@contextmanager
def forwarding_proxy(upstream: str) -> Iterator[ForwardingProxy]:
    proxy = ForwardingProxy(upstream)
    proxy._thread.start()
    try:
        yield proxy
    finally:
        proxy.server.shutdown()
        proxy.server.server_close()


class RefusingServer:
    """An HTTP server on 127.0.0.1 that answers every request 401 (as MLflow with auth does) and keeps the
    Authorization header each request carried."""

    def __init__(self) -> None:
        self.received: list[str | None] = []
        refusing = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _refuse(self) -> None:
                refusing.received.append(self.headers.get("Authorization"))
                body = b'{"error_code": "UNAUTHENTICATED", "message": "You are not authenticated"}'
                self.send_response(401)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _refuse

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def refusing_server() -> Iterator[RefusingServer]:
    refusing = RefusingServer()
    threading.Thread(target=refusing.server.serve_forever, name="test-refusing", daemon=True).start()
    try:
        yield refusing
    finally:
        refusing.server.shutdown()
        refusing.server.server_close()
