"""Reading server URLs the user gives: one place that turns a malformed one into a UsageError, never a crash.

`urllib.parse` raises ValueError for a bracket left open (`http://[::1`) and only when `.port` is read for a port
out of range or not a number (`:99999`, `:abc`); every URL paddlectl connects to is read through here first.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import SplitResult, urlsplit

from paddlectl.errors import UsageError
from paddlectl.foundation.secrets import mask_url_credentials


class ReadUrl(NamedTuple):
    parts: SplitResult
    port: int | None


def read_url(url: str, what: str, hint: str) -> ReadUrl:
    """The URL's parts and port; UsageError naming `what` when it does not parse or its port is unusable."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"{what} {mask_url_credentials(url)!r} is malformed: {exc}", hint=hint) from None
    if port == 0:
        raise UsageError(f"{what} {mask_url_credentials(url)!r} has port 0", hint=hint)
    return ReadUrl(parts, port)


def http_server_url(url: str, what: str, hint: str) -> str:
    """An http(s):// server address with a host name; UsageError saying what is wrong otherwise."""
    parts = read_url(url, what, hint).parts
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"{what} {mask_url_credentials(url)!r} is not an http(s):// server address", hint=hint)
    if not parts.hostname:
        raise UsageError(f"{what} {mask_url_credentials(url)!r} names no host", hint=hint)
    return url
