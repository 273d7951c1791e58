"""Recorded runs: the manifest, the run store and its index, and everything read from or done to them.

Owns: manifest.yaml (manifest), run folders (store), the summary index (index), finding and filtering runs
(query), comparing and gating them (compare, gate), their logs (logs, logstream), metrics (metrics,
metric_recorder, series, plot), settling a run from its container (settle, reconcile), the runtime probe,
the tag history, and removing runs and their leftovers (cleanup).
May import: project, engine (the protocol only), foundation, errors.
"""
