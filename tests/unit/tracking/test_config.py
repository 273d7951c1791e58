"""paddlectl.yaml's mlflow: section and where a push goes (option, environment, file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from paddlectl.errors import UsageError
from paddlectl.tracking.config import MlflowConfig, parse_mlflow_section, read_mlflow_config, resolve_target


def test_the_section_is_read_from_paddlectl_yaml(tmp_path: Path) -> None:
    config = tmp_path / "paddlectl.yaml"
    config.write_text("project: p\nmlflow:\n  tracking_uri: http://mlflow:5000\n  experiment: e\n  live: true\n")
    assert read_mlflow_config(config) == MlflowConfig("http://mlflow:5000", "e", True)
    assert read_mlflow_config(tmp_path / "missing.yaml") == MlflowConfig()
    assert read_mlflow_config(None) == MlflowConfig()


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({"tracking_uri": 5}, "mlflow.tracking_uri"),
        ({"live": "sometimes"}, "mlflow.live"),
        ({"trackinguri": "http://x"}, "unknown field `trackinguri`"),
        (["http://x"], "Expected `object`"),
    ],
)
def test_a_wrong_section_is_one_line_naming_the_key(raw: object, problem: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_mlflow_section(raw, "paddlectl.yaml")
    assert problem in caught.value.message and caught.value.message.startswith("paddlectl.yaml: mlflow:")


def test_option_beats_environment_beats_file_and_the_experiment_defaults_to_the_project() -> None:
    config = MlflowConfig(tracking_uri="http://file:5000", experiment="from-file")
    env = {"MLFLOW_TRACKING_URI": "http://env:5000"}
    assert resolve_target(config, project_name="p", environ={}) == resolve_target(config, project_name="p", environ={})
    assert resolve_target(config, project_name="p", environ={}).uri == "http://file:5000"
    assert resolve_target(config, project_name="p", environ=env).uri == "http://env:5000"
    assert resolve_target(config, project_name="p", environ=env, tracking_uri="http://opt:1").uri == "http://opt:1"
    assert resolve_target(MlflowConfig(), project_name="p", environ=env).experiment == "p"
    assert resolve_target(config, project_name="p", environ={"MLFLOW_EXPERIMENT_NAME": "x"}).experiment == "x"
    assert resolve_target(config, project_name="p", environ={}, experiment="o").experiment == "o"


def test_no_uri_or_a_non_http_one_is_a_usage_error_with_a_hint() -> None:
    with pytest.raises(UsageError, match="no MLflow tracking server") as caught:
        resolve_target(MlflowConfig(), project_name="p", environ={})
    assert "--tracking-uri" in (caught.value.hint or "")
    with pytest.raises(UsageError, match="not an http"):
        resolve_target(MlflowConfig(), project_name="p", environ={}, tracking_uri="sqlite:///mlflow.db")
    with pytest.raises(UsageError) as masked:
        resolve_target(MlflowConfig(), project_name="p", environ={}, tracking_uri="ftp://u:secret77@host")
    assert "secret77" not in masked.value.message
