"""The REST client against a scripted HTTP server on 127.0.0.1: retries, exit codes, masked credentials."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from paddlectl.errors import ExitCode, PaddlectlError
from paddlectl.mlflowapi.client import MlflowRequestError, TrackingClient

TOKEN = "tok-2b8e61f0aa"


class Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next (status, body) of `answers`; keeps what it was sent."""

    answers: list[tuple[int, bytes]] = []  # noqa: RUF012 - set per test
    seen: list[dict[str, str]] = []  # noqa: RUF012

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.seen.append({"path": self.path, "authorization": self.headers.get("Authorization", "")})
        status, body = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = _answer


@pytest.fixture
def server() -> Iterator[str]:
    Scripted.seen = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def client(uri: str) -> TrackingClient:
    return TrackingClient(uri, environ={"MLFLOW_TRACKING_TOKEN": TOKEN}, backoff=0, retries=3)


def test_busy_answers_are_retried_then_the_answer_is_used(server: str) -> None:
    Scripted.answers = [(503, b"busy"), (429, b"slow down"), (200, b'{"experiment_id": "7"}')]
    assert client(server).call("POST", "experiments/create", {"name": "x"}) == {"experiment_id": "7"}
    assert len(Scripted.seen) == 3
    assert {seen["authorization"] for seen in Scripted.seen} == {f"Bearer {TOKEN}"}


def test_a_failing_server_is_unavailable_after_the_retries(server: str) -> None:
    Scripted.answers = [(500, b'{"error_code": "INTERNAL_ERROR", "message": "db down"}')]
    with pytest.raises(PaddlectlError) as caught:
        client(server).call("GET", "runs/get", run_id="1")
    assert caught.value.code is ExitCode.UNAVAILABLE and "db down" in caught.value.message
    assert len(Scripted.seen) == 4


def test_an_mlflow_refusal_is_exit_1_with_the_servers_message_and_no_secret(server: str) -> None:
    message = f"Invalid value for params[0].key (sent with {TOKEN})"
    Scripted.answers = [(400, json.dumps({"error_code": "INVALID_PARAMETER_VALUE", "message": message}).encode())]
    with pytest.raises(MlflowRequestError) as caught:
        client(server).call("POST", "runs/log-batch", {})
    assert caught.value.code is ExitCode.FAILED and caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "params[0].key" in caught.value.message and TOKEN not in caught.value.message
    assert len(Scripted.seen) == 1  # a refusal is not retried


def test_something_that_is_not_mlflow_says_so(server: str) -> None:
    Scripted.answers = [(404, b"<html>no such page</html>")]
    with pytest.raises(PaddlectlError) as caught:
        client(server).call("GET", "experiments/get-by-name", experiment_name="x")
    assert caught.value.code is ExitCode.UNAVAILABLE and "MLflow tracking server" in (caught.value.hint or "")


def test_a_missing_experiment_is_none_not_an_error(server: str) -> None:
    body = {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Could not find experiment with name 'x'"}
    Scripted.answers = [(404, json.dumps(body).encode())]
    assert client(server).experiment_by_name("x") is None
