"""The private docker-py APIs engine/docker_engine.py relies on still exist with the signatures it calls them with.

`DockerContainer.stream_output` attaches without `logs=1`, which docker-py has no public call for, so it uses
`APIClient._post`, `_url`, `_get_raw_response_socket` and `_disable_socket_timeout`. pyproject.toml caps docker-py
below 8; this test says which of them a newer (or older) docker-py broke, before a run hangs or loses output.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import docker.api.client
import pytest
import requests

import paddlectl.engine.docker_engine as docker_engine

APIClient = docker.api.client.APIClient
DOCKER_PY = metadata.version("docker")
ENGINE_SOURCE = Path(docker_engine.__file__).read_text(encoding="utf-8")

# Each private method with the arguments stream_output passes (self first); the signature must accept them.
RESPONSE, SOCKET = object(), object()
PRIVATE_CALLS: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "_url": (("/containers/{0}/attach", "0123abcd"), {}),
    "_post": (("http://docker/v1.41/containers/0123abcd/attach",), {"headers": {}, "params": {}, "stream": True}),
    "_get_raw_response_socket": ((RESPONSE,), {}),
    "_disable_socket_timeout": ((SOCKET,), {}),
}


def _underlying(function: Callable[..., Any], name: str) -> Callable[..., Any]:
    """The function named `name` under its decorators: docker-py's `update_headers` wraps `_post` without
    functools.wraps, so its signature reads (*args, **kwargs) and would accept anything."""
    function = inspect.unwrap(function)
    cells = [cell.cell_contents for cell in getattr(function, "__closure__", None) or ()]
    inner = [value for value in cells if inspect.isfunction(value) and value.__name__ == name]
    return _underlying(inner[0], name) if inner and inner[0] is not function else function


def test_the_checked_list_is_every_private_api_the_adapter_uses() -> None:
    used = set(re.findall(r"\bapi\.(_[A-Za-z]\w*)", ENGINE_SOURCE))
    assert used == set(PRIVATE_CALLS), (
        f"docker_engine.py uses private docker-py APIs {sorted(used)}; this test checks {sorted(PRIVATE_CALLS)}"
    )


@pytest.mark.parametrize("name", sorted(PRIVATE_CALLS))
def test_private_api_exists_with_the_called_signature(name: str) -> None:
    method = getattr(APIClient, name, None)
    assert callable(method), f"docker-py {DOCKER_PY}: APIClient.{name} is gone (engine/docker_engine.py needs it)"
    args, kwargs = PRIVATE_CALLS[name]
    signature = inspect.signature(_underlying(method, name))
    try:
        signature.bind(object(), *args, **kwargs)
    except TypeError as exc:
        pytest.fail(
            f"docker-py {DOCKER_PY}: APIClient.{name}{signature} no longer takes the arguments "
            f"engine/docker_engine.py passes ({exc})"
        )


def test_post_hands_headers_params_and_stream_to_requests() -> None:
    # _post(url, **kwargs) forwards to requests.Session.post -> request(method, url, ...): those keywords must exist.
    signature = inspect.signature(requests.Session.request)
    missing = {"headers", "params", "stream"} - set(signature.parameters)
    assert not missing, (
        f"requests {requests.__version__} (under docker-py {DOCKER_PY}): Session.request has no {sorted(missing)}"
    )
