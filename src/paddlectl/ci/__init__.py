"""CI: the gate a pipeline runs (baselines by reference, thresholds, comparability, noise, reports) and the
pipeline files `paddlectl ci init` writes.

- thresholds.py: `--metric val_acc:max-drop=1%` and `--metric loss:lower,max-rise=0.02` as rules;
- baselines.py: what a run is gated against, from a run, a registry version's card or (through
  paddlectl.tracking) an MLflow model version, behind one small interface (`BaselineSource`);
- comparability.py: data, profile, image and evaluation params the two must share;
- history.py: every gate recorded (one JSON line), and the spread of recent gated runs (`--noise-from K`);
- gate.py: the gate itself, one function from a request to a result with its exit code;
- reports.py: JUnit XML, Markdown (and GitHub's step summary) from a result;
- pipelines.py: the GitLab and GitHub pipeline files.
Nothing here imports typer or rich or prints.
"""
