"""MLflow: push recorded runs to a tracking server, mirror a run there live while it trains, and read a model
version of its Model Registry as a gate's baseline (baseline.py).

paddlectl's local manifest stays the source of truth; the server gets a faithful copy. The tracking calls go
to MLflow's REST API over `requests` (paddlectl.mlflowapi, which the registry's MLflow backend shares); artifact
stores the server does not serve itself (s3://, gs://, ...) are written through the optional MLflow client,
`pip install 'paddlectl[mlflow]'`.
"""
