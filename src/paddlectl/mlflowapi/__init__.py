"""MLflow's REST API as paddlectl talks to it: one HTTP client (auth, TLS, retries, one-line errors with the
credentials masked) and the artifact stores a run's `artifact_uri` can name.

Both `tracking` (runs pushed and mirrored live) and `registry` (its MLflow backend) stand on it, which is why it
sits low (layer 2, next to the engine adapter): neither of them imports the other.
- client.py: `TrackingClient`, the request path and the experiment and run calls;
- model_registry.py: the Model Registry calls (registered models, versions, aliases, tags);
- artifacts.py: upload, download and delete in the server's artifact proxy, a plain folder, or (with the
  optional MLflow client library) any other store.
Nothing here imports `mlflow` at module level; `requests` is imported on first use.
"""
