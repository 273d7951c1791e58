"""Server URLs the user gives: a malformed one is a UsageError saying so, never a ValueError from urllib."""

from __future__ import annotations

import pytest

from paddlectl.errors import UsageError
from paddlectl.foundation.urls import http_server_url, read_url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://[::1", "malformed: Invalid IPv6 URL"),
        ("http://127.0.0.1:99999", "malformed: Port out of range"),
        ("http://127.0.0.1:abc", "malformed: Port could not be cast"),
        ("http://", "names no host"),
        ("http://:9", "names no host"),
        ("ftp://127.0.0.1", "not an http"),
        ("https://user:s3cret@[::1", "malformed"),
    ],
)
def test_a_bad_server_url_is_a_usage_error(url: str, problem: str) -> None:
    with pytest.raises(UsageError, match=problem) as caught:
        http_server_url(url, "MLflow tracking URI", hint="give its http(s):// address")
    assert caught.value.hint == "give its http(s):// address"
    assert "s3cret" not in caught.value.message


def test_a_good_url_reads_with_its_port() -> None:
    assert http_server_url("http://127.0.0.1:5000", "x", "h") == "http://127.0.0.1:5000"
    assert read_url("ssh://me@[::1]:2222", "x", "h").port == 2222
