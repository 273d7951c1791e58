"""paddlectl.yaml against its schema: a misspelled key or a wrongly typed value is one line naming where it is."""

from __future__ import annotations

import re
import sys
from datetime import date
from pathlib import Path

import msgspec
import pytest

from conftest import REPO_ROOT, run_cli
from paddlectl.errors import ExitCode, UsageError
from paddlectl.project.config import DEFAULT_CPU_IMAGE, DEFAULT_SHM_SIZE, InputSpec, load_config
from paddlectl.project.create import init_project
from paddlectl.project.schema import ConfigDocument, Section

SECTIONS = (
    "project, images, train, profiles, export, registry, mlflow, gate, hosts"  # what the error lists, in schema order
)


class Host(Section):
    url: str
    gpus: int = 0


class WithHosts(ConfigDocument):
    """paddlectl.yaml with a section of named entries, as a later feature would add one."""

    hosts: dict[str, Host] = msgspec.field(default_factory=dict)


def write(folder: Path, text: str) -> Path:
    path = folder / "paddlectl.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(folder: Path, text: str) -> UsageError:
    with pytest.raises(UsageError) as caught:
        load_config(write(folder, text))
    error = caught.value
    assert error.code is ExitCode.USAGE
    assert "\n" not in error.message, error.message
    return error


@pytest.mark.parametrize(
    ("text", "key", "line", "suggestion"),
    [
        ("project: x\nimgaes:\n  cpu: paddle:3.2.0\n", "imgaes", 2, "images"),
        ("project: x\ntrain:\n  gpu: all\n", "train.gpu", 3, "gpus"),
        ("train: {gpu: all}\n", "train.gpu", 1, "gpus"),
        ("export:\n  model_args: {}\n  modle: model:build\n", "export.modle", 3, "model"),
        ("images:\n  cpu: a:1\n  gpus: b:1\n", "images.gpus", 3, "gpu"),
        (
            "export:\n  inputs:\n    - {name: x, shape: [1]}\n    - name: y\n      shpe: [2]\n",
            "export.inputs[1].shpe",
            5,
            "shape",
        ),
        ("train:\n  params: {lr: 0.1}\n  shm: 4g\n", "train.shm", 3, "shm_size"),
    ],
)
def test_a_misspelled_key_is_named_with_its_line_and_the_closest_key(
    tmp_path: Path, text: str, key: str, line: int, suggestion: str
) -> None:
    error = error_for(tmp_path, text)
    assert str(tmp_path / "paddlectl.yaml") in error.message
    assert f"unknown key '{key}'" in error.message
    assert f"line {line}" in error.message
    assert error.message.endswith(f"did you mean '{suggestion}'?")
    assert error.hint and suggestion in error.hint


def test_an_unknown_key_like_no_other_lists_the_valid_ones(tmp_path: Path) -> None:
    error = error_for(tmp_path, "train:\n  zzzz: 1\n")
    assert "unknown key 'train.zzzz'" in error.message and "did you mean" not in error.message
    assert error.hint == "the keys of train are: gpus, shm_size, params"


@pytest.mark.parametrize(
    ("text", "says", "line"),
    [
        ("export:\n  model: 5\n", "export.model must be a string, not an integer", 2),
        ("train:\n  shm_size: [1]\n", "train.shm_size must be a string or an integer, not a list", 2),
        ("project: x\nimages: 3\n", "images must be a mapping, not an integer", 2),
        ("images:\n  cpu: {a: 1}\n", "images.cpu must be a string, not a mapping", 2),
        ("train:\n  params: [1, 2]\n", "train.params must be a mapping, not a list", 2),
        ("train:\n  params:\n    lr: 0.1\n    layers: [1, 2]\n", "train.params.layers must be a scalar", 4),
        ("train:\n  params:\n    3: x\n", "key '3' in train.params must be a string, not an integer", 3),
        ("export:\n  model_args: [1]\n", "export.model_args must be a mapping, not a list", 2),
        ("export:\n  inputs: {name: x}\n", "export.inputs must be a list, not a mapping", 2),
        ("export:\n  inputs:\n    - {name: x, shape: [-1, wide]}\n", "export.inputs[0].shape[1] must be an integer", 3),
        ("export:\n  inputs:\n    - {name: x, shape: 3}\n", "export.inputs[0].shape must be a list", 3),
        ("export:\n  inputs:\n    - {shape: [1]}\n", "export.inputs[0] has no 'name'", 3),
        ("export:\n  weights: true\n", "export.weights must be a string, not true/false", 2),
        ("project: [a]\n", "project must be a string or an integer, not a list", 1),
    ],
)
def test_a_value_of_the_wrong_type_is_named_with_its_line(tmp_path: Path, text: str, says: str, line: int) -> None:
    error = error_for(tmp_path, text)
    assert says in error.message
    assert f"line {line}" in error.message
    assert str(tmp_path / "paddlectl.yaml") in error.message
    assert error.hint


@pytest.mark.parametrize(
    ("text", "says"),
    [("- a\n- b\n", "not a list"), ("just text\n", "not a string")],
)
def test_a_document_that_is_no_mapping(tmp_path: Path, text: str, says: str) -> None:
    error = error_for(tmp_path, text)
    assert says in error.message and f"must be a mapping of sections ({SECTIONS})" in error.message


def test_null_sections_and_values_take_the_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "images:\ntrain:\n  gpus:\n  params:\nexport:\n  model: null\n  inputs:\n"))
    assert (config.cpu_image, config.gpus, config.shm_size, config.params) == (DEFAULT_CPU_IMAGE, "none", "2g", {})
    assert config.export.model is None and config.export.inputs == ()


def test_numbers_yaml_reads_where_text_is_meant_stay_usable(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "project: 2024\ntrain:\n  gpus: 0\n  shm_size: 1024\n"))
    assert (config.name, config.gpus, config.shm_size) == ("2024", "0", "1024")


def test_params_keep_their_typing_rules(tmp_path: Path) -> None:
    text = "train:\n  params:\n    lr: 1e-3\n    epochs: 3\n    tag: v1\n    skip: null\n    flag: yes\n"
    text += "    day: 2026-11-01\n"
    config = load_config(write(tmp_path, text))
    assert config.params == {"lr": 0.001, "epochs": 3, "tag": "v1", "skip": None, "flag": True, "day": "2026-11-01"}
    assert isinstance(config.params["lr"], float)


def test_model_args_and_inputs_as_before(tmp_path: Path) -> None:
    text = (
        "export:\n  model: m:f\n  model_args: {layers: [1, 2], name: x, nested: {a: 1}}\n"
        "  inputs:\n    - {name: x, dtype: int64, shape: [null, 4]}\n    - {name: y, shape: [-1]}\n"
    )
    config = load_config(write(tmp_path, text))
    assert config.export.model_args == {"layers": [1, 2], "name": "x", "nested": {"a": 1}}
    assert config.export.inputs == (InputSpec("x", "int64", (-1, 4)), InputSpec("y", "float32", (-1,)))


def test_every_section_is_reachable_validated(tmp_path: Path) -> None:
    """New sections are read from config.document (one Struct and one field in project/schema.py)."""
    config = load_config(write(tmp_path, "train:\n  gpus: all\n"))
    assert config.document.train.gpus == "all"
    assert config.document.images.cpu == DEFAULT_CPU_IMAGE
    from paddlectl.project.workspace import open_project

    assert open_project(tmp_path / "elsewhere").config.document.train.shm_size == DEFAULT_SHM_SIZE


def test_the_template_init_writes_validates(tmp_path: Path) -> None:
    result = init_project(tmp_path / "proj", force=False)
    config = load_config(result.config_path)
    assert config.name == "proj" and config.params == {}  # a script that takes no --epochs runs as it is
    assert config.export.model is None and config.export.inputs == ()


@pytest.mark.parametrize("example", sorted(p.parent.name for p in (REPO_ROOT / "examples").glob("*/paddlectl.yaml")))
def test_the_examples_validate(example: str) -> None:
    config = load_config(REPO_ROOT / "examples" / example / "paddlectl.yaml")
    assert config.name.startswith("digits")


def test_examples_are_found() -> None:
    assert len(list((REPO_ROOT / "examples").glob("*/paddlectl.yaml"))) >= 2


def test_line_numbers_survive_anchors_and_comments(tmp_path: Path) -> None:
    text = "# a comment\n\nbase: &b {gpus: all}\n"
    error = error_for(tmp_path, text)
    assert "unknown key 'base'" in error.message and "line 3" in error.message
    text = "images:\n  cpu: paddle:3.2.0\n\n# later\ntrain:\n  <<: {shm_size: 4g}\n  gpu: all\n"
    error = error_for(tmp_path, text)
    assert "unknown key 'train.gpu'" in error.message and "line 7" in error.message


def test_a_config_with_a_typo_stops_the_cli_with_exit_2(project_dir: Path) -> None:
    write(project_dir, "project: x\ntrain:\n  gpu: all\n")
    result = run_cli("doctor", cwd=project_dir)
    assert result.returncode == ExitCode.USAGE, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: ")
    assert re.search(r"line 3: unknown key 'train\.gpu'; did you mean 'gpus'\?$", lines[0]), lines[0]


def test_a_wrongly_typed_export_model_is_exit_2_not_an_internal_error(project_dir: Path) -> None:
    write(project_dir, "export:\n  model: 5\n")
    result = run_cli("export", "--random-init", "-o", "out", cwd=project_dir)
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert "internal error" not in result.stderr and "export.model must be a string" in result.stderr


def test_yaml_dates_in_params_become_text(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "train:\n  params:\n    when: 2026-11-01\n"))
    assert config.params["when"] == date(2026, 11, 1).isoformat()


def test_a_section_of_named_entries_gets_the_same_precision() -> None:
    """How a later section with named entries (`hosts: {box: {...}}`) would be declared, and what its errors say."""
    import yaml

    from paddlectl.project.validation import convert

    text = "hosts:\n  box-a:\n    url: ssh://a\n  box-b:\n    url: ssh://b\n    gpu: 2\n"
    with pytest.raises(UsageError) as caught:
        convert(yaml.safe_load(text), WithHosts, source="p.yaml", text=text)
    assert caught.value.message == "p.yaml, line 6: unknown key 'hosts.box-b.gpu'; did you mean 'gpus'?"
    text = "hosts:\n  box-a:\n    url: ssh://a\n  box-b:\n    url: 7\n"
    with pytest.raises(UsageError) as caught:
        convert(yaml.safe_load(text), WithHosts, source="p.yaml", text=text)
    assert caught.value.message == "p.yaml, line 5: hosts.box-b.url must be a string, not an integer"
    document = convert({"hosts": {"box": {"url": "ssh://x"}}, "train": None}, WithHosts, source="p.yaml")
    assert document.hosts["box"].url == "ssh://x" and document.train.gpus == "none"


def _schema_keys() -> list[str]:
    keys = []
    for section in msgspec.structs.fields(ConfigDocument):
        keys.append(section.encode_name)
        if isinstance(section.default_factory, type) and issubclass(section.default_factory, Section):
            keys.extend(f"{section.encode_name}.{key.encode_name}" for key in msgspec.structs.fields(section.type))
    return keys


def test_every_key_is_in_the_template_and_the_readme() -> None:
    """A section added to the schema is also added to what `init` writes and to README.md's table."""
    from paddlectl.project.create import CONFIG_TEMPLATE

    template = CONFIG_TEMPLATE.format(name="p", cpu_image="c:1", gpu_image="g:1")
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    keys = _schema_keys()
    assert "train.gpus" in keys and "export.inputs" in keys
    for key in keys:
        assert re.search(rf"^\s*{re.escape(key.rpartition('.')[2])}:", template, re.MULTILINE), f"{key} not in template"
        documented = f"| `{key}` |" in readme or f"| `{key}." in readme  # a section's row, or its keys' rows
        assert documented or key in ("images", "train", "export"), f"{key} not in README's table"


@pytest.mark.parametrize(
    ("text", "key", "lines"),
    [
        (
            "project: demo\nprofiles: {}\ntrain:\n  gpus: none\nprofiles:\n  ci: {params: {epochs: 1}}\n",
            "profiles",
            (2, 5),
        ),
        ("project: demo\ntrain:\n  gpus: none\n  shm_size: 2g\n  gpus: all\n", "train.gpus", (3, 5)),
    ],
)
def test_a_key_written_twice_is_an_error_naming_both_lines(
    tmp_path: Path, text: str, key: str, lines: tuple[int, int]
) -> None:
    path = tmp_path / "paddlectl.yaml"
    path.write_text(text)
    with pytest.raises(UsageError) as caught:
        load_config(path)
    first, second = lines
    assert caught.value.message == (
        f"{path}, line {second}: {key} is written twice (first on line {first}); YAML would keep only the last"
    )


def test_an_empty_profile_is_a_profile_with_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "paddlectl.yaml"
    path.write_text("project: demo\nprofiles:\n  ci:\n  smoke: null\n")
    config = load_config(path)
    assert config.profile("ci").params == {} and config.profile("smoke").gpus is None


def test_a_duplicate_key_thousands_deep_is_found_without_overflowing_the_stack(tmp_path: Path) -> None:
    path = tmp_path / "paddlectl.yaml"
    # 900 deep: under PyYAML's own nesting limit (1,000 in newer releases), over a stack this test makes small.
    path.write_text("project: demo\nx: " + "[" * 900 + "{k: 1, k: 2}" + "]" * 900 + "\n")  # found by the fuzzer
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(600)
    try:
        with pytest.raises(UsageError, match=r"\.k is written twice \(first on line 2\)"):
            load_config(path)
    finally:
        sys.setrecursionlimit(limit)
