"""The model registry: versions of packages, their statuses, an audit trail, and hot and cold storage.

A registered version is one package archive (what `paddlectl package` writes), verified with packaging's own code
and identified by its sha256; its record is the model card plus the registry's fields (status, storage,
registered_by/at, signature state). Every change is one event in an append-only, hash-chained log ordered by
sequence number.

Layers inside this package, top to bottom:
- commands: register.py, promote.py (promote, rollback), query.py (list, show, compare), history.py (the log
  replayed, production at a time, the chain checked), audit.py (verify), pull.py, cold.py (archive, restore),
  reproduction.py (a verified package as the run reproduce needs);
- policy.py (the package checked against registry.trusted_keys; require_signature) and store.py (`Registry`:
  settings + backend + policy, and the lookups and re-verification every command shares);
- the storage, behind backend.py's two protocols, which is all the commands see of it:
  - `RegistryBackend`: `location`, `blobs`, `transaction()`, `get(name, version)`, `find(name, status)`,
    `listing(name, status)` (find's rows as stored JSON, for 10,000-row listings), `events(name)` (sequence
    order), `event_logs()` (each hash chain with its head, kept apart from the log), `close()`;
  - `RegistryTransaction` (from `transaction()`: all or nothing, serialised with other writers): `get`,
    `by_sha256`, `production(name)`, `insert(record)`, `set_status`, `set_storage`, `append(draft) -> Event`
    (the backend assigns sequence, time in ns and the hash chain), `referenced_blobs()`;
  - `BlobStore`: `has`, `put(source, sha256)` (checked while copied, whole or nothing), `path`, `remove`,
    `stored()`, `sweep_partial(age)`.
  sqlite_backend.py (SQLite in WAL mode, `BEGIN IMMEDIATE`, a partial unique index for one production per model,
  triggers that keep the log append-only) with blobs.py (`blobs/sha256/ab/<sha256>`) is the embedded one;
  mlflow_backend.py (`registry.backend: mlflow`) keeps the same records on an MLflow Model Registry: versions and
  the event log as tags (mlflow_records.py), packages as run artifacts (mlflow_blobs.py), production and staging
  as aliases. MLflow has neither transactions nor compare-and-set: races.py finds afterwards what two writers at
  one instant did, and history and verify report it.

Settings (settings.py, config.py, mlflow_settings.py): PADDLECTL_REGISTRY, `registry:` in paddlectl.yaml, then the
user config. Nothing here imports typer or rich or prints; boto3 and cryptography are imported only where used,
and the MLflow backend talks to the server through paddlectl.mlflowapi (never tracking, a layer above).
"""
