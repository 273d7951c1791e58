"""MLflow's REST API over `requests`: the one request path (auth, retries, one-line errors) and the run calls.

Why not the MLflow client library: `import mlflow` costs ~0.85 s (skinny) before the first request, more than a
third of the 2 s a 10,000-point push may take end to end, and its fluent API would hide the request boundaries
that resumable pushes depend on (which batch landed, which progress tag rode with it). The calls are few and
stable (`experiments/*`, `runs/create|search|get|update|delete|delete-tag|log-batch`, `mlflow-artifacts/*`).
The library is still used, from artifacts.py, for artifact stores only a client can write (s3://, gs://, ...).

Authentication and TLS follow MLflow's own variables: MLFLOW_TRACKING_TOKEN (a bearer token), or
MLFLOW_TRACKING_USERNAME + MLFLOW_TRACKING_PASSWORD (basic), MLFLOW_TRACKING_INSECURE_TLS,
MLFLOW_TRACKING_SERVER_CERT_PATH, MLFLOW_TRACKING_CLIENT_CERT_PATH and MLFLOW_HTTP_REQUEST_TIMEOUT. Credentials
never appear in a message: URLs are shown with their password masked and known secret values are masked in any
text the server sends back.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import IO, TYPE_CHECKING, Any

from paddlectl.errors import ExitCode, PaddlectlError, UnavailableError
from paddlectl.foundation.secrets import mask_text, mask_url_credentials

if TYPE_CHECKING:
    import requests

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
DEFAULT_TIMEOUT = 30.0
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
AUTH_HINT = (
    "check the server's address and your credentials (MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME "
    "and MLFLOW_TRACKING_PASSWORD)"
)


class MlflowRequestError(PaddlectlError):
    """The server answered a request with an MLflow error (a 4xx with an `error_code`)."""

    def __init__(self, message: str, *, error_code: str, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint, code=ExitCode.FAILED)
        self.error_code = error_code
        self.status = status


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


class TrackingClient:
    """One tracking server: a `requests` session with auth, timeouts and retries, and the calls push makes.

    Raises UnavailableError (exit 3) when the server cannot be reached, answers 5xx after the retries, refuses
    the credentials (401/403) or is not an MLflow server; MlflowRequestError (exit 1) for its other refusals.
    """

    def __init__(
        self,
        uri: str,
        *,
        environ: Mapping[str, str] | None = None,
        timeout: float | None = None,
        retries: int = 3,
        backoff: float = 0.25,
        where: str = "--tracking-uri, MLFLOW_TRACKING_URI, mlflow.tracking_uri in paddlectl.yaml",
    ) -> None:
        env = os.environ if environ is None else environ
        self.base = uri.rstrip("/")
        self.where = where  # where the address came from, for the hint when it cannot be reached
        self.display = mask_url_credentials(self.base)
        self.retries = retries
        self.backoff = backoff
        self.timeout = (
            timeout if timeout is not None else float(env.get("MLFLOW_HTTP_REQUEST_TIMEOUT") or DEFAULT_TIMEOUT)
        )
        self._headers = {"User-Agent": "paddlectl"}
        self._auth: tuple[str, str] | None = None
        self._verify: bool | str = True
        self._cert: str | None = env.get("MLFLOW_TRACKING_CLIENT_CERT_PATH") or None
        self._secrets: list[str] = []
        token = env.get("MLFLOW_TRACKING_TOKEN")
        username, password = env.get("MLFLOW_TRACKING_USERNAME"), env.get("MLFLOW_TRACKING_PASSWORD")
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
            self._secrets.append(token)
        elif username and password:
            self._auth = (username, password)
            self._secrets.append(password)
        if _truthy(env.get("MLFLOW_TRACKING_INSECURE_TLS")):
            self._verify = False
        elif env.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
            self._verify = env["MLFLOW_TRACKING_SERVER_CERT_PATH"]
        self._local = threading.local()  # one session per thread: push keeps two batches in flight
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    @property
    def session(self) -> requests.Session:
        """This thread's session (keep-alive connections, auth and TLS settings)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = requests.Session()
            session.headers.update(self._headers)
            session.auth = self._auth
            session.verify = self._verify
            session.cert = self._cert
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def masked(self, text: str) -> str:
        """`text` with URL passwords and this client's credentials masked."""
        return mask_text(text, self._secrets)

    # ---- the one request path ----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | Callable[[], IO[bytes]] | None = None,
        params: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
        base: str | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """Send one request to `base` (the tracking server by default) + `path`, retrying connection errors,
        timeouts, 429 and 5xx with backoff; raise on failure. `data` may be a callable opening a fresh body for
        each attempt (a file streamed from disk)."""
        import requests

        url = (base or self.base) + path
        attempt = 0
        while True:
            body = data() if callable(data) else data
            try:
                response = self.session.request(
                    method,
                    url,
                    json=json_body,
                    data=body,
                    params=params,
                    timeout=self.timeout,
                    headers={"Content-Type": content_type} if body is not None else None,
                    stream=stream,
                )
            except requests.RequestException as exc:
                if attempt < self.retries:
                    attempt += 1
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                raise UnavailableError(
                    f"cannot reach the MLflow server at {self.display}: {self.masked(_reason(exc, self.timeout))}",
                    hint=f"is the server running? check the tracking URI ({self.where})",
                ) from None
            finally:
                if body is not None and hasattr(body, "close"):
                    body.close()
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                attempt += 1
                time.sleep(self.backoff * 2 ** (attempt - 1))
                continue
            if response.status_code >= 400:
                raise self._error(method, path, response)
            return response

    def call(self, method: str, endpoint: str, body: Any = None, **params: Any) -> dict[str, Any]:
        """A tracking API call (`runs/create`, ...) and its JSON answer."""
        response = self.request(method, f"{API}/{endpoint}", json_body=body, params=params or None)
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            raise UnavailableError(
                f"{self.display} answered {endpoint} with something that is not MLflow's JSON",
                hint="is this the address of an MLflow tracking server?",
            ) from None
        if not isinstance(answer, dict):
            raise UnavailableError(f"{self.display} answered {endpoint} with unexpected JSON")
        return answer

    def _error(self, method: str, path: str, response: requests.Response) -> PaddlectlError:
        status = response.status_code
        try:
            answer = response.json()
        except ValueError:
            answer = None
        error_code = answer.get("error_code") if isinstance(answer, dict) else None
        message = answer.get("message") if isinstance(answer, dict) else None
        where = path.removeprefix(API + "/")
        if status in (401, 403):
            return UnavailableError(
                f"the MLflow server at {self.display} refused {where}: {status} {response.reason}", hint=AUTH_HINT
            )
        if not isinstance(error_code, str):
            text = self.masked(" ".join((response.text or response.reason or "").split())[:200])
            problem = UnavailableError if status >= 500 or status == 404 else PaddlectlError
            return problem(
                f"the MLflow server at {self.display} answered {method} {where} with {status}: {text}",
                hint="is this the address of an MLflow tracking server (MLflow 2.9 or newer)?",
            )
        text = self.masked(" ".join(str(message or "").split())[:500])
        if status >= 500:
            return UnavailableError(f"the MLflow server at {self.display} failed {where}: {error_code}: {text}")
        return MlflowRequestError(f"MLflow refused {where}: {text}", error_code=error_code, status=status)

    # ---- the calls ---------------------------------------------------------------------------------------

    def experiment_by_name(self, name: str) -> dict[str, Any] | None:
        try:
            answer = self.call("GET", "experiments/get-by-name", experiment_name=name)
        except MlflowRequestError as error:
            if error.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        experiment = answer.get("experiment")
        return experiment if isinstance(experiment, dict) else None

    def ensure_experiment(self, name: str, elsewhere: str = "push with --experiment NAME") -> str:
        """The id of the active experiment `name`, created when missing (a concurrent creation is fine)."""
        for _ in range(2):
            experiment = self.experiment_by_name(name)
            if experiment is not None:
                if experiment.get("lifecycle_stage") == "deleted":
                    raise PaddlectlError(
                        f"MLflow experiment {name!r} is deleted on {self.display}",
                        hint=f"restore it on the server (mlflow experiments restore) or {elsewhere}",
                    )
                return str(experiment["experiment_id"])
            try:
                return str(self.call("POST", "experiments/create", {"name": name})["experiment_id"])
            except MlflowRequestError as error:
                if error.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
        raise PaddlectlError(f"MLflow experiment {name!r} could neither be found nor created on {self.display}")

    def search_runs(self, experiment_id: str, filter_string: str, max_results: int = 100) -> list[dict[str, Any]]:
        answer = self.call(
            "POST",
            "runs/search",
            {
                "experiment_ids": [experiment_id],
                "filter": filter_string,
                "max_results": max_results,
                "run_view_type": "ACTIVE_ONLY",
            },
        )
        runs = answer.get("runs") or []
        return [run for run in runs if isinstance(run, dict)]

    def create_run(
        self, experiment_id: str, start_time: int, run_name: str, tags: list[dict[str, str]]
    ) -> dict[str, Any]:
        body = {"experiment_id": experiment_id, "start_time": start_time, "run_name": run_name, "tags": tags}
        run = self.call("POST", "runs/create", body)["run"]
        return dict(run)

    def get_run(self, run_id: str) -> dict[str, Any]:
        return dict(self.call("GET", "runs/get", run_id=run_id)["run"])

    def log_batch(self, body: bytes) -> None:
        self.request("POST", f"{API}/runs/log-batch", data=body)

    def update_run(self, run_id: str, status: str, end_time: int | None, run_name: str) -> None:
        body: dict[str, Any] = {"run_id": run_id, "status": status, "run_name": run_name}
        if end_time is not None:
            body["end_time"] = end_time
        self.call("POST", "runs/update", body)

    def set_run_tag(self, run_id: str, key: str, value: str) -> None:
        self.call("POST", "runs/set-tag", {"run_id": run_id, "key": key, "value": value})

    def delete_tag(self, run_id: str, key: str) -> None:
        self.call("POST", "runs/delete-tag", {"run_id": run_id, "key": key})

    def delete_run(self, run_id: str) -> None:
        self.call("POST", "runs/delete", {"run_id": run_id})


def _reason(exc: BaseException, timeout: float) -> str:
    """The root cause of a requests failure in a few words (requests' own messages run to several lines)."""
    import requests

    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s"
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        text = str(cause)
        if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo failed" in text:
            return "host not found"
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return "TLS certificate not trusted (MLFLOW_TRACKING_SERVER_CERT_PATH names a CA bundle)"
        if "Connection refused" in text:
            return "connection refused"
        candidates = (cause.args[0] if cause.args else None, getattr(cause, "reason", None), cause.__cause__)
        cause = next((c for c in (*candidates, cause.__context__) if isinstance(c, BaseException)), None)
    return type(exc).__name__
