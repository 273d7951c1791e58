"""Where the registry is and what its policy says: environment, paddlectl.yaml, the user config, and precedence."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from paddlectl.errors import UsageError
from paddlectl.foundation.yamlio import dump_yaml
from paddlectl.registry.settings import load_settings, mlflow_server_uri


@pytest.fixture
def homes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(the user config file, the project's paddlectl.yaml); cwd is the project, neither file exists yet."""
    monkeypatch.delenv("PADDLECTL_REGISTRY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    monkeypatch.chdir(project / "sub")
    user = tmp_path / "config" / "paddlectl" / "config.yaml"
    user.parent.mkdir(parents=True)
    return user, project / "paddlectl.yaml"


def _write(path: Path, registry: object) -> None:
    path.write_text(dump_yaml({"registry": registry}))


def test_defaults_to_the_xdg_data_dir(homes: tuple[Path, Path], tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.path == tmp_path / "data" / "paddlectl" / "registry"
    assert (settings.backend, settings.require_signature, settings.trusted_keys, settings.cold) == (
        "local",
        False,
        (),
        None,
    )


def test_project_over_user_over_defaults_and_the_environment_over_both(
    homes: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, project = homes
    _write(user, {"path": "~/reg", "trusted_keys": ["keys/me.pub"], "cold": {"bucket": "mine", "region": "eu"}})
    assert load_settings().trusted_keys == (user.parent / "keys" / "me.pub",)  # relative to the file naming it
    _write(project, {"path": "models", "trusted_keys": ["release.pub"], "cold": {"bucket": "team"}})
    settings = load_settings()
    assert settings.path == project.parent / "models"
    assert settings.trusted_keys == (project.parent / "release.pub",)
    assert settings.cold is not None and (settings.cold.bucket, settings.cold.region) == ("team", "eu")
    assert settings.cold.prefix == "paddlectl"
    monkeypatch.setenv("PADDLECTL_REGISTRY", str(tmp_path / "env"))
    assert load_settings().path == tmp_path / "env"


def test_require_signature_is_on_when_either_file_turns_it_on(homes: tuple[Path, Path]) -> None:
    user, project = homes
    _write(user, {"require_signature": True})
    _write(project, {"require_signature": False})
    assert load_settings().require_signature is True
    _write(user, {"require_signature": False})
    _write(project, {"require_signature": True})
    assert load_settings().require_signature is True
    _write(project, {})
    assert load_settings().require_signature is False


@pytest.mark.parametrize(
    ("registry", "message"),
    [
        ({"require_signature": "yes please"}, "Expected `bool`"),
        ({"trusted_keys": "one.pub"}, "Expected `array`"),
        ({"colour": "blue"}, "unknown field `colour`"),
        ({"backend": "sqlite"}, "Invalid enum value 'sqlite'"),
        ({"cold": {"endpoint": "http://x"}}, "registry.cold needs a bucket"),
        ("not a mapping", "Expected `object`"),
    ],
)
def test_a_wrong_section_is_a_usage_error_naming_the_file(
    homes: tuple[Path, Path], registry: object, message: str
) -> None:
    _, project = homes
    _write(project, registry)
    with pytest.raises(UsageError, match=message) as caught:
        load_settings()
    if "bucket" not in message:
        assert str(project) in caught.value.message


def test_listings_with_the_environment_set_read_no_file(
    homes: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, project = homes
    project.write_text("registry: [unclosed\n")
    monkeypatch.setenv("PADDLECTL_REGISTRY", str(tmp_path / "env"))
    assert load_settings(policy=False).path == tmp_path / "env"
    with pytest.raises(UsageError, match="not valid YAML"):
        load_settings()


def test_msgspec_is_imported_only_for_a_registry_section(homes: tuple[Path, Path]) -> None:
    _, project = homes
    probe = (
        "import sys; from paddlectl.registry.settings import load_settings; load_settings(); "
        "print('msgspec' in sys.modules)"
    )
    project.write_text(dump_yaml({"project": "p"}))
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout == "False\n"
    _write(project, {"path": "x"})
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout == "True\n"


# ---- registry.backend: mlflow ----------------------------------------------------------------------------------


@pytest.fixture
def no_mlflow_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("MLFLOW_REGISTRY_URI", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_mlflow_server_comes_from_the_environment_then_registry_mlflow_then_mlflow_tracking_uri(
    homes: tuple[Path, Path], no_mlflow_env: pytest.MonkeyPatch
) -> None:
    user, project = homes
    project.write_text(dump_yaml({"registry": {"backend": "mlflow"}, "mlflow": {"tracking_uri": "http://push:5000"}}))
    settings = load_settings()
    assert settings.backend == "mlflow" and settings.mlflow is not None
    assert (settings.mlflow.uri, settings.mlflow.experiment) == ("http://push:5000", "paddlectl-registry")
    assert (settings.mlflow.production_alias, settings.mlflow.staging_alias) == ("production", "staging")
    _write(user, {"mlflow": {"uri": "http://team:5000/", "experiment": "packages"}})
    settings = load_settings()
    assert settings.mlflow is not None and (settings.mlflow.uri, settings.mlflow.experiment) == (
        "http://team:5000",
        "packages",
    )
    no_mlflow_env.setenv("MLFLOW_TRACKING_URI", "http://ci:5000")
    assert load_settings().mlflow.uri == "http://ci:5000"  # type: ignore[union-attr]
    no_mlflow_env.setenv("MLFLOW_REGISTRY_URI", "https://registry:443")
    assert load_settings().mlflow.uri == "https://registry:443"  # type: ignore[union-attr]


def test_the_mlflow_server_of_models_references_is_read_whatever_the_backend(
    homes: tuple[Path, Path], no_mlflow_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    user, project = homes
    assert mlflow_server_uri() is None
    project.write_text(dump_yaml({"mlflow": {"tracking_uri": "http://push:5000"}}))
    assert mlflow_server_uri() == "http://push:5000"
    _write(user, {"backend": "local", "mlflow": {"uri": "http://team:5000"}})
    no_mlflow_env.setenv("PADDLECTL_REGISTRY", str(tmp_path / "local"))  # the registry is local; MLflow's server stays
    assert mlflow_server_uri() == "http://team:5000"
    no_mlflow_env.setenv("MLFLOW_TRACKING_URI", "http://ci:5000")
    assert mlflow_server_uri() == "http://ci:5000"
    no_mlflow_env.setenv("MLFLOW_REGISTRY_URI", "http://registry:5000")
    assert mlflow_server_uri() == "http://registry:5000"


def test_paddlectl_registry_names_a_local_folder_whatever_the_backend(
    homes: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, project = homes
    _write(project, {"backend": "mlflow", "mlflow": {"uri": "http://team:5000"}})
    monkeypatch.setenv("PADDLECTL_REGISTRY", str(tmp_path / "env"))
    for policy in (True, False):  # listings read no file: they must agree with the commands that do
        settings = load_settings(policy=policy)
        assert (settings.backend, settings.mlflow, settings.path) == ("local", None, tmp_path / "env")


@pytest.mark.parametrize(
    ("mlflow", "message"),
    [
        ({}, "registry.backend is mlflow, but no MLflow server is set"),
        ({"uri": "sqlite:///mlruns.db"}, "is not an http(s):// server address"),
        ({"uri": "http://t:5000", "aliases": {"production": "latest"}}, "'latest' is reserved by MLflow"),
        ({"uri": "http://t:5000", "aliases": {"production": "LATEST"}}, "'LATEST' is reserved by MLflow"),
        ({"uri": "http://t:5000", "aliases": {"staging": "v3"}}, "'v3' is reserved by MLflow (v<N> names version N)"),
        ({"uri": "http://t:5000", "aliases": {"staging": "V10"}}, "'V10' is reserved by MLflow"),
        ({"uri": "http://t:5000", "aliases": {"staging": "next one"}}, "'next one' is not an alias name"),
        ({"uri": "http://t:5000", "aliases": {"production": "live", "staging": "live"}}, "both 'live'"),
        ({"uri": "http://t:5000", "aliases": {"prod": "live"}}, "unknown field `prod`"),
    ],
)
def test_a_wrong_mlflow_backend_is_one_line(
    homes: tuple[Path, Path], no_mlflow_env: pytest.MonkeyPatch, mlflow: dict[str, object], message: str
) -> None:
    _, project = homes
    _write(project, {"backend": "mlflow", "mlflow": mlflow})
    with pytest.raises(UsageError) as caught:
        load_settings()
    assert message in caught.value.message and "\n" not in caught.value.message
    assert caught.value.hint


def test_aliases_other_than_the_reserved_ones_are_taken(
    homes: tuple[Path, Path], no_mlflow_env: pytest.MonkeyPatch
) -> None:
    _, project = homes
    _write(project, {"backend": "mlflow", "mlflow": {"uri": "http://t:5000", "aliases": {"production": "champion"}}})
    settings = load_settings().mlflow
    assert settings is not None and (settings.production_alias, settings.staging_alias) == ("champion", "staging")
    assert settings.display_uri == "http://t:5000"
