"""Secret masking: names, URL credentials, argv forms, known values (reliability checklist line 11)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paddlectl.foundation.secrets import (
    MASK,
    MIN_SECRET_LENGTH,
    is_secret_name,
    mask_argv,
    mask_mapping,
    mask_text,
    mask_url_credentials,
    name_parts,
    secret_values_of,
    strip_url_credentials,
)

SECRET_NAMES = [
    "KEY",
    "key",
    "API_KEY",
    "api-key",
    "apikey",
    "ApiKey",
    "APIKey",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "HF_TOKEN",
    "GITHUB_TOKEN",
    "db_password",
    "DBPASSWORD",
    "privateKey",
    "private_key",
    "access_key",
    "passwd",
    "pwd",
    "db.pwd",
    "credentials",
    "auth",
    "BASIC_AUTH",
    "Authorization",
    "session",
    "client_secret",
    "wandb.api_key",
    "secret_key_dim",  # `secret` is never overloaded
]
PLAIN_NAMES = [
    "keyboard",
    "monkey",
    "batch_size",
    "lr",
    "keys_dim",
    "num_keys",
    "key_dim",
    "num_key_value_heads",
    "max_tokens",
    "tokenizer",
    "pad_token_id",
    "eos_token",
    "token_type_ids",
    "AWS_ACCESS_KEY_ID",
    "ssl_key_file",
    "author",
    "PWD",
    "OLDPWD",
    "HOME",
    "hidden_size",
    "",
]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", PLAIN_NAMES)
def test_plain_names(name: str) -> None:
    assert not is_secret_name(name)


def test_name_parts_split_camel_case_and_separators() -> None:
    assert name_parts("AWS_SECRET_ACCESS_KEY") == ["aws", "secret", "access", "key"]
    assert name_parts("privateKey") == ["private", "key"]
    assert name_parts("APIKey") == ["api", "key"]
    assert name_parts("wandb.api-key2") == ["wandb", "api", "key", "2"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://user:tok@github.com/x.git", f"https://user:{MASK}@github.com/x.git"),
        ("https://ghp_abc123@github.com/x.git", f"https://{MASK}@github.com/x.git"),
        ("postgres://u:p@ss@db:5432/x", f"postgres://u:{MASK}@db:5432/x"),
        ("see redis://:pw@cache:6379 and s3://a:b@bucket", f"see redis://:{MASK}@cache:6379 and s3://a:{MASK}@bucket"),
        ("ssh://git@github.com/x.git", "ssh://git@github.com/x.git"),
        ("git@github.com:x.git", "git@github.com:x.git"),
        ("http://host:8080/a@b", "http://host:8080/a@b"),
        ("http://host/?mail=a@b.c", "http://host/?mail=a@b.c"),
        ("no url here", "no url here"),
    ],
)
def test_mask_url_credentials(text: str, expected: str) -> None:
    assert mask_url_credentials(text) == expected


def test_strip_url_credentials() -> None:
    assert strip_url_credentials("https://user:token@github.com/x.git") == "https://github.com/x.git"
    assert strip_url_credentials("https://token@github.com/x.git") == "https://github.com/x.git"
    assert strip_url_credentials("git@github.com:x.git") == "git@github.com:x.git"
    assert strip_url_credentials("ssh://git:pw@host/x.git") == "ssh://git@host/x.git"
    assert strip_url_credentials("https://github.com/x.git") == "https://github.com/x.git"


def test_mask_text_masks_embedded_assignments_and_query_tokens() -> None:
    assert mask_text("sh -c 'HF_TOKEN=abc python t.py'") == f"sh -c 'HF_TOKEN={MASK} python t.py'"
    assert mask_text("https://h/x?access_token=abc&page=2") == f"https://h/x?access_token={MASK}&page=2"
    assert mask_text("batch_size=32 lr=0.1") == "batch_size=32 lr=0.1"


def test_mask_mapping() -> None:
    data = {
        "HF_TOKEN": "hf_abcdef",
        "lr": 0.1,
        "empty_password": "",
        "unset_token": None,
        "db": "postgres://u:pw@h/db",
        "note": "uses hf_abcdef inside",
        "nested": {"api_key": "k", "depth": 3, "items": [{"password": "p"}, "x"]},
    }
    masked = mask_mapping(data, ["hf_abcdef"])
    assert masked == {
        "HF_TOKEN": MASK,
        "lr": 0.1,
        "empty_password": "",
        "unset_token": None,
        "db": f"postgres://u:{MASK}@h/db",
        "note": f"uses {MASK} inside",
        "nested": {"api_key": MASK, "depth": 3, "items": [{"password": MASK}, "x"]},
    }
    assert data["HF_TOKEN"] == "hf_abcdef"  # the input is left alone


def test_mask_argv_forms() -> None:
    argv = [
        "docker", "run", "-e", "AWS_SECRET_ACCESS_KEY=abcd1234", "-e", "HOME=/root", "--env=HF_TOKEN=hf_x",
        "img", "python", "train.py", "--api-key", "k-123", "--token=t0k3n", "--lr", "0.1", "--shift", "-1",
        "--repo", "https://u:pw@host/x.git", "-p", "db.password=pw", "--private", "--epochs", "3",
        "--note", "copy of abcd1234 here",
    ]  # fmt: skip
    assert mask_argv(argv, ["abcd1234"]) == [
        "docker", "run", "-e", f"AWS_SECRET_ACCESS_KEY={MASK}", "-e", "HOME=/root", f"--env=HF_TOKEN={MASK}",
        "img", "python", "train.py", "--api-key", MASK, f"--token={MASK}", "--lr", "0.1", "--shift", "-1",
        "--repo", f"https://u:{MASK}@host/x.git", "-p", f"db.password={MASK}", "--private", "--epochs", "3",
        "--note", f"copy of {MASK} here",
    ]  # fmt: skip
    assert argv[3] == "AWS_SECRET_ACCESS_KEY=abcd1234"  # a copy, not in place


def test_mask_argv_leaves_plain_commands_alone() -> None:
    argv = ["python", "train.py", "--lr", "0.01", "--keyboard", "us", "--max_tokens", "512", "KEY_DIM=64"]
    assert mask_argv(argv, []) == argv


def test_short_and_literal_values_are_not_searched_for() -> None:
    argv = ["python", "t.py", "--epochs", "1", "--flag", "true"]
    assert mask_argv(argv, ["1", "true", "abc"]) == argv
    assert MIN_SECRET_LENGTH == 4


def test_secret_values_of_an_environment() -> None:
    env = {"HF_TOKEN": "hf_x", "HOME": "/root", "DB_PASSWORD": "", "API_KEY": "k"}
    assert secret_values_of(env) == ["hf_x", "k"]


def test_secret_in_env_and_argument_is_masked_everywhere() -> None:
    env = {"WANDB_API_KEY": "w4nd8-s3cr3t"}
    argv = ["python", "t.py", "--wandb", "w4nd8-s3cr3t", "--run-name", "x-w4nd8-s3cr3t"]
    masked = mask_argv(argv, secret_values_of(env))
    assert not any("w4nd8-s3cr3t" in arg for arg in masked)
    assert masked[:3] == ["python", "t.py", "--wandb"]


secret_text = st.text(min_size=MIN_SECRET_LENGTH, max_size=24).filter(
    lambda s: s.lower() not in ("true", "false", "none", "null") and s != MASK
)


@settings(max_examples=150, deadline=None)
@given(
    secrets=st.lists(secret_text, min_size=1, max_size=4),
    noise=st.lists(st.text(max_size=12), max_size=8),
    data=st.data(),
)
def test_registered_secret_never_survives(secrets: list[str], noise: list[str], data: st.DataObject) -> None:
    pieces = noise + secrets
    argv = [
        "".join(data.draw(st.lists(st.sampled_from(pieces), max_size=4))) for _ in range(data.draw(st.integers(1, 6)))
    ]
    masked = mask_argv(argv, secrets)
    assert len(masked) == len(argv)
    for secret in secrets:
        assert not any(secret in arg for arg in masked), (secret, argv, masked)
    mapped = mask_mapping({f"k{i}": arg for i, arg in enumerate(argv)}, secrets)
    for secret in secrets:
        assert not any(secret in str(value) for value in mapped.values())


@settings(max_examples=150, deadline=None)
@given(
    secrets=st.lists(st.text(alphabet="ab*", min_size=MIN_SECRET_LENGTH, max_size=6), min_size=1, max_size=3),
    argv=st.lists(st.text(alphabet="ab*", max_size=16), min_size=1, max_size=4),
)
def test_secrets_holding_the_mask_character_never_survive(secrets: list[str], argv: list[str]) -> None:
    secrets = [secret for secret in secrets if secret != MASK]
    masked = mask_argv(argv, secrets)
    for secret in secrets:
        assert not any(secret in arg for arg in masked), (secret, argv, masked)


def test_secret_reappearing_around_the_mask_is_masked_again() -> None:
    assert mask_argv(["xx***"], ["x***"]) == ["*****"]


def test_masking_is_fast() -> None:
    argv = [f"--opt{i}=value{i}" for i in range(200)] + ["--token", "abc", "https://u:p@h/x"]
    secrets = [f"secret-value-{i}" for i in range(20)]
    start = time.perf_counter()
    for _ in range(100):
        mask_argv(argv, secrets)
    per_call = (time.perf_counter() - start) / 100
    assert per_call < 0.01, per_call
