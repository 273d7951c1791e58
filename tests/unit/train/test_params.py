"""-p key=value typing, params files, layering, and rendering to argv."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

from paddlectl.errors import ExitCode, UsageError
from paddlectl.train.params import (
    ResolvedParams,
    load_params_file,
    params_to_args,
    parse_assignment,
    parse_key_value,
    resolve_params,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lr=0.01", 0.01),
        ("lr=1e-3", 0.001),
        ("lr=3e4", 30000.0),
        ("lr=1.0e5", 100000.0),
        ("lr=-2.5E-2", -0.025),
        ("epochs=3", 3),
        ("epochs=-2", -2),
        ("steps=1_000", 1000),
        ("flag=true", True),
        ("flag=False", False),
        ("flag=TRUE", True),
        ("opt=null", None),
        ("opt=~", None),
        ("name=", ""),
        ("name=resnet50", "resnet50"),
        ("name=hello world", "hello world"),
        ("country=no", "no"),
        ("switch=on", "on"),
        ("seed=007", "007"),
        ("time=1:30", "1:30"),
        ("day=2024-01-01", "2024-01-01"),
        ("ver='3.10'", "3.10"),
        ('ids="[1, 2]"', "[1, 2]"),
        ("ids='{a: 1}'", "{a: 1}"),
        ("glob=*.jpg", "*.jpg"),
        ("at=@home", "@home"),
        ("hash=#x", "#x"),
        ("note=a #b", "a #b"),
        ("url=https://host:8080/x?a=b", "https://host:8080/x?a=b"),
        ("eq=a=b", "a=b"),
        ("model.depth=4", 4),
        ("my-key=x", "x"),
    ],
)
def test_parse_assignment_types_values(text: str, expected: object) -> None:
    key, value = parse_assignment(text, "-p")
    assert key == text.partition("=")[0]
    assert value == expected
    assert type(value) is type(expected)


def test_parse_assignment_reads_special_floats() -> None:
    assert parse_assignment("x=.inf", "-p")[1] == math.inf
    assert math.isnan(parse_assignment("x=.nan", "-p")[1])


def test_python_tags_stay_plain_strings() -> None:
    text = "x=!!python/object/apply:os.system ['echo pwned']"
    assert parse_assignment(text, "-p") == ("x", text[2:])


@pytest.mark.parametrize("text", ["ids=[1, 2]", "cfg={a: 1}", "cfg=a: b", "ids=[1,"])
def test_lists_and_mappings_are_refused(text: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_assignment(text, "-p")
    assert "scalars" in info.value.message
    assert info.value.hint is not None and "quote" in info.value.hint
    assert info.value.code == ExitCode.USAGE


def test_missing_equals_has_the_usage_hint() -> None:
    with pytest.raises(UsageError) as info:
        parse_assignment("lr", "-p")
    assert info.value.hint == "use -p key=value, e.g. -p lr=0.01"


@pytest.mark.parametrize("text", ["=1", "1lr=1", "l r=1", "lr!=1", "-x=1"])
def test_bad_keys_are_refused(text: str) -> None:
    with pytest.raises(UsageError, match="not a valid param name"):
        parse_assignment(text, "-p")


def test_params_file_yaml(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("lr: 1e-3\nepochs: 3\nname: 'x'\nflag: true\nday: 2024-01-02\nnothing: null\n")
    assert load_params_file(path) == {
        "lr": 0.001,
        "epochs": 3,
        "name": "x",
        "flag": True,
        "day": "2024-01-02",
        "nothing": None,
    }


def test_params_file_json_keeps_strings(tmp_path: Path) -> None:
    path = tmp_path / "params.json"
    path.write_text(json.dumps({"lr": 0.5, "tag": "1e-3", "n": 2}))
    assert load_params_file(path) == {"lr": 0.5, "tag": "1e-3", "n": 2}


def test_empty_params_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("")
    assert load_params_file(path) == {}


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("list.yaml", "- 1\n- 2\n", "mapping"),
        ("nested.yaml", "model:\n  depth: 3\n", "scalars"),
        ("listval.yaml", "ids: [1, 2]\n", "scalars"),
        ("badkey.yaml", "1: a\n", "not a valid param name"),
        ("broken.yaml", "a: [1,\n", "not valid YAML"),
        ("broken.json", "{a: 1", "not valid JSON"),
        ("evil.yaml", "a: !!python/object/apply:os.system ['echo x']\n", "not valid YAML"),
    ],
)
def test_bad_params_files_name_the_file(tmp_path: Path, name: str, text: str, words: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        load_params_file(path)
    assert str(path) in info.value.message
    assert words in info.value.message
    assert "\n" not in info.value.message


def test_missing_params_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(UsageError, match="not found") as info:
        load_params_file(path)
    assert str(path) in info.value.message


def test_resolve_layers_and_sources(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("lr: 0.1\nepochs: 5\n")
    resolved = resolve_params(
        {"lr": 0.5, "batch_size": 32, "epochs": 1},
        path,
        ["epochs=7", "seed=1", "seed=2"],
    )
    assert resolved.values == {"lr": 0.1, "batch_size": 32, "epochs": 7, "seed": 2}
    assert resolved.sources == {"lr": f"file:{path}", "batch_size": "config", "epochs": "cli", "seed": "cli"}
    assert list(resolved.values) == ["lr", "batch_size", "epochs", "seed"]


def test_resolve_without_file_or_assignments() -> None:
    resolved = resolve_params({"lr": 0.5}, None, [])
    assert resolved.values == {"lr": 0.5}
    assert resolved.sources == {"lr": "config"}


def test_resolve_refuses_nested_config_defaults() -> None:
    with pytest.raises(UsageError, match=r"train\.params"):
        resolve_params({"model": {"depth": 3}}, None, [])


def test_params_to_args_rendering_and_order() -> None:
    args = params_to_args({"lr": 0.01, "epochs": 3, "flag": True, "off": False, "skip": None, "name": "x"})
    assert args == ["--lr", "0.01", "--epochs", "3", "--flag", "true", "--off", "false", "--name", "x"]


def test_params_to_args_round_trips_through_argparse() -> None:
    values = {"lr": 1e-5, "epochs": 3, "flag": True, "shift": -0.5, "tag": "-weird", "empty": "", "unset": None}
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--flag", type=lambda s: s.lower() == "true")
    parser.add_argument("--shift", type=float)
    parser.add_argument("--tag")
    parser.add_argument("--empty")
    parser.add_argument("--unset", default="script-default")
    parsed = vars(parser.parse_args(params_to_args(values)))
    assert parsed == {**values, "unset": "script-default"}


def test_parse_key_value_labels() -> None:
    assert parse_key_value("team=vision", "--label") == ("team", "vision")
    assert parse_key_value("note=a=b", "--label") == ("note", "a=b")
    assert parse_key_value("empty=", "--label") == ("empty", "")
    with pytest.raises(UsageError, match="no '='") as info:
        parse_key_value("team", "--label")
    assert info.value.hint is not None and "--label key=value" in info.value.hint


def test_parse_key_value_env() -> None:
    environ = {"HF_TOKEN": "abc"}
    assert parse_key_value("A=1", "--env", environ=environ) == ("A", "1")
    assert parse_key_value("HF_TOKEN", "--env", environ=environ) == ("HF_TOKEN", "abc")
    assert parse_key_value("X=", "-e", environ=environ) == ("X", "")
    with pytest.raises(UsageError, match="not set") as info:
        parse_key_value("MISSING", "--env", environ=environ)
    assert info.value.hint is not None and "MISSING=VALUE" in info.value.hint
    for bad in ("1A=x", "A-B=x", "A.B=x", "=x"):
        with pytest.raises(UsageError, match="environment variable name"):
            parse_key_value(bad, "--env", environ=environ)


def test_parse_key_value_env_reads_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PADDLECTL_TEST_PASSTHROUGH", "v1")
    assert parse_key_value("PADDLECTL_TEST_PASSTHROUGH", "--env") == ("PADDLECTL_TEST_PASSTHROUGH", "v1")


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("1.10", "1.10"),  # a version: `--ver 1.1` would be another one
        ("3.20", "3.20"),
        ("1.00", "1.00"),
        ("0.10", "0.10"),
        ("1.50e-3", "1.50e-3"),
        ("0.30000000000000000001", "0.30000000000000000001"),  # more digits than a float holds
        ("1e999", "1e999"),  # would be inf
        ("0x1f", "0x1f"),  # another base: int("0x1f", 16) works, int("31", 16) is 49
        ("0b101", "0b101"),
        ("017", "017"),
        ("0o17", "0o17"),
        ("1:30", "1:30"),
    ],
)
def test_a_number_that_would_print_differently_keeps_the_typed_text(typed: str, kept: str) -> None:
    assert parse_assignment(f"ver={typed}", "-p") == ("ver", kept)
    assert params_to_args({"ver": parse_assignment(f"ver={typed}", "-p")[1]}) == ["--ver", kept]


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        ("1.0", 1.0),  # prints as typed
        ("1e-3", 0.001),  # only the spelling changes: no typed digit is lost
        ("1e3", 1000.0),
        ("3e4", 30000.0),
        (".5", 0.5),
        ("12.5e-1", 1.25),
        ("1_000", 1000),  # digit separators are spelling too
        ("+3", 3),
        (".inf", math.inf),
    ],
)
def test_a_number_that_loses_nothing_stays_a_number(typed: str, number: float) -> None:
    value = parse_assignment(f"x={typed}", "-p")[1]
    assert value == number and type(value) is type(number)


def test_an_explicit_tag_is_obeyed() -> None:
    assert parse_assignment("ver=!!float 1.10", "-p")[1] == 1.1
    assert parse_assignment("mode=!!int 0x1f", "-p")[1] == 31


def test_params_files_keep_the_typed_text_by_the_same_rule(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("ver: 1.10\nlr: 1e-3\nmode: 0755\nquoted: '2.50'\nexact: !!float 2.50\n")
    assert load_params_file(path) == {"ver": "1.10", "lr": 0.001, "mode": "0755", "quoted": "2.50", "exact": 2.5}


def test_resolved_params_record_each_type(tmp_path: Path) -> None:
    resolved = resolve_params(
        {"epochs": 10}, None, ["ver=1.10", "lr=1e-3", "flag=true", "unset=null", "name=resnet", "epochs=3"]
    )
    assert resolved.values == {"epochs": 3, "ver": "1.10", "lr": 0.001, "flag": True, "unset": None, "name": "resnet"}
    assert resolved.types == {
        "epochs": "int",
        "ver": "str",
        "lr": "float",
        "flag": "bool",
        "unset": "null",
        "name": "str",
    }
    rebuilt = ResolvedParams(resolved.values, resolved.sources)  # as reproduce builds it: types follow the values
    assert rebuilt.types == resolved.types


def test_a_key_set_twice_is_named_once() -> None:
    from paddlectl.train.params import repeated_keys

    assert repeated_keys(["lr=0.01", "epochs=3", "lr=0.02", " lr = 1", "x=1"]) == ["lr"]
    assert repeated_keys(["lr=0.01"]) == []
