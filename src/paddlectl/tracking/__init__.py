"""MLflow: push recorded runs to a tracking server, and mirror a run there live while it trains.

paddlectl's local manifest stays the source of truth; the server gets a faithful copy. The tracking calls go
to MLflow's REST API over `requests` (paddlectl.mlflowapi, which the registry's MLflow backend shares); artifact
stores the server does not serve itself (s3://, gs://, ...) are written through the optional MLflow client,
`pip install 'paddlectl[mlflow]'`.
"""
