"""Mask secrets before anything is printed or saved: secret-looking names, URL passwords, known secret values.

A name is secret-looking when one of its word parts (split on `_`, `-`, `.`, other punctuation and camelCase)
is a secret word: key, token, secret, password, passwd, pwd, credential, auth, private, apikey, access_key,
session and a few spellings of them. Parts, not substrings, so `keyboard`, `monkey`, `tokenizer` and
`batch_size` are not secret; `password`, `passwd`, `secret`, `credential` and `apikey` also match inside
a word (`dbpassword`). Decisions:
- plurals `keys` and `tokens` are not secret words: `keys_dim`, `num_keys`, `max_tokens` are hyperparameters;
- `key` and `token` do not count in a name that ends in a size or identity part (`key_dim`,
  `pad_token_id`, `num_key_value_heads`, `AWS_ACCESS_KEY_ID`, `ssl_key_file`), starts with `num`/`max`/`min`,
  or names a special token (`eos_token`, `pad_token`); other secret words (`aws_secret_key_id`) still count;
- `PWD` (the shell's current folder) is not secret, `pwd` and `db_pwd` are.
Everything here is pure string work: no I/O, compiled patterns, a cache for names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

MASK = "****"
# Known secret values shorter than this, or plain literals, are not searched for inside other text: masking
# every "1" or "true" in a command line would hide more than it protects. Names still mask them.
MIN_SECRET_LENGTH = 4
_PLAIN_LITERALS = frozenset({"true", "false", "none", "null", "yes", "no", "on", "off"})

SECRET_WORDS = frozenset(
    {
        "key", "token", "secret", "secrets", "password", "passwords", "passwd", "pwd", "passphrase",
        "credential", "credentials", "creds", "auth", "authorization", "oauth", "private", "apikey",
        "accesskey", "secretkey", "privatekey", "accesstoken", "authtoken", "session", "cookie",
    }
)  # fmt: skip
_INNER_WORDS = ("password", "passwd", "secret", "credential", "apikey")
_OVERLOADED = frozenset({"key", "token"})  # also ML vocabulary: attention keys, tokenizer tokens
_NOT_SECRET_LAST = frozenset(
    {
        "dim", "dims", "size", "sizes", "len", "length", "lengths", "num", "count", "heads", "head", "idx",
        "index", "id", "ids", "type", "types", "limit", "layers", "file", "path", "dir", "name", "names",
    }
)  # fmt: skip
_NOT_SECRET_FIRST = frozenset({"num", "max", "min", "n"})
_SPECIAL_TOKENS = frozenset({"pad", "bos", "eos", "unk", "cls", "sep", "mask", "sos", "special", "start", "end"})
_NOT_SECRET_NAMES = frozenset({"PWD", "OLDPWD"})

_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_ASSIGNMENT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
# `name=value` inside longer text (query strings, `sh -c "TOKEN=x cmd"`); the value ends at space, & or quote.
_EMBEDDED_ASSIGNMENT = re.compile(r"(?<![A-Za-z0-9_.])([A-Za-z_][A-Za-z0-9_.\-]*)=([^\s&\"';]+)")
# scheme://userinfo@ ; the userinfo runs to the last @ before the host, so raw @ in passwords are covered.
_URL_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*://)([^\s/?#\"'<>\[\]]*)@")
_SSH_SCHEMES = frozenset({"ssh", "git+ssh", "ssh+git", "sftp", "git"})


def name_parts(name: str) -> list[str]:
    """Lower-case word parts of a name: `AWS_SECRET_ACCESS_KEY` -> aws, secret, access, key; camelCase too."""
    return [part.lower() for part in _PARTS.findall(name)]


@lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a variable, option or param name looks like it holds a secret (see the module docstring)."""
    if name in _NOT_SECRET_NAMES:
        return False
    parts = name_parts(name)
    if not parts:
        return False
    for index, part in enumerate(parts):
        if part not in SECRET_WORDS:
            continue
        if part not in _OVERLOADED:
            return True
        previous = parts[index - 1] if index else None
        if parts[-1] in _NOT_SECRET_LAST and index != len(parts) - 1:
            continue
        if parts[0] in _NOT_SECRET_FIRST and index != 0:
            continue
        if part == "token" and previous in _SPECIAL_TOKENS:
            continue
        return True
    lowered = name.lower()
    return any(word in lowered for word in _INNER_WORDS)


def _mask_userinfo(match: re.Match[str]) -> str:
    scheme, userinfo = match.group(1), match.group(2)
    user, sep, password = userinfo.partition(":")
    if sep:
        return f"{scheme}{user}:{MASK}@" if password else match.group(0)
    if not userinfo or scheme[:-3].lower() in _SSH_SCHEMES:
        return match.group(0)  # `ssh://git@host`: a user name, not a credential
    return f"{scheme}{MASK}@"  # `https://ghp_xxx@github.com`: a token standing alone


def mask_url_credentials(text: str) -> str:
    """Mask the password (or a lone token) in every `scheme://user:pass@host` inside `text`."""
    if "://" not in text:
        return text
    return _URL_USERINFO.sub(_mask_userinfo, text)


def strip_url_credentials(url: str) -> str:
    """Drop credentials from a URL: `https://user:tok@host/x` -> `https://host/x`; ssh user names are kept."""

    def strip(match: re.Match[str]) -> str:
        scheme, userinfo = match.group(1), match.group(2)
        user = userinfo.partition(":")[0]
        if scheme[:-3].lower() in _SSH_SCHEMES and user:
            return f"{scheme}{user}@"
        return scheme

    return _URL_USERINFO.sub(strip, url)


def _mask_embedded(match: re.Match[str]) -> str:
    return f"{match.group(1)}={MASK}" if is_secret_name(match.group(1)) else match.group(0)


def _searchable(secret_values: Iterable[str]) -> list[str]:
    values = {
        value
        for value in secret_values
        if isinstance(value, str)
        and len(value) >= MIN_SECRET_LENGTH
        and value.lower() not in _PLAIN_LITERALS
        and value not in MASK
    }
    return sorted(values, key=len, reverse=True)  # longest first: a secret holding another goes whole


def _replace_values(text: str, values: list[str]) -> str:
    # Repeat until none is left: a value holding `*` can reappear around an inserted MASK (`x***` in `xx***`).
    # It ends: each replacement removes a character other than `*`, or shortens the text.
    replaced = True
    while replaced:
        replaced = False
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
                replaced = True
    return text


class ValueMasker:
    """Masks known secret values wherever they appear in text (the lines a run prints); a no-op without any."""

    def __init__(self, secret_values: Iterable[str] = ()) -> None:
        self.values = _searchable(secret_values)

    def __bool__(self) -> bool:
        return bool(self.values)

    def __call__(self, text: str) -> str:
        return _replace_values(text, self.values) if self.values else text


def mask_text(text: str, secret_values: Iterable[str] = ()) -> str:
    """Mask URL credentials, secret `name=value` pairs and known secret values inside free text."""
    masked = mask_url_credentials(text)
    if "=" in masked:
        masked = _EMBEDDED_ASSIGNMENT.sub(_mask_embedded, masked)
    return _replace_values(masked, _searchable(secret_values))


def _mask_value(value: Any, secret_values: list[str], secret: bool) -> Any:
    if secret:
        return value if value is None or value == "" else MASK
    if isinstance(value, str):
        return _replace_values(mask_text(value), secret_values)
    if isinstance(value, Mapping):
        return _mask_mapping(value, secret_values)
    if isinstance(value, list | tuple):
        return [_mask_value(item, secret_values, False) for item in value]
    return value


def _mask_mapping(d: Mapping[Any, Any], secret_values: list[str]) -> dict[Any, Any]:
    return {key: _mask_value(value, secret_values, is_secret_name(str(key))) for key, value in d.items()}


def mask_mapping(d: Mapping[Any, Any], secret_values: Iterable[str] = ()) -> dict[Any, Any]:
    """A copy of `d` with values of secret-looking keys replaced by MASK (None and "" kept).

    Other strings get URL credentials, secret `name=value` pairs and the given secret values masked; nested
    mappings and lists are walked the same way.
    """
    return _mask_mapping(d, _searchable(secret_values))


def secret_values_of(mapping: Mapping[str, Any]) -> list[str]:
    """The string values under secret-looking names (e.g. of an environment), to mask them everywhere."""
    return [value for key, value in mapping.items() if isinstance(value, str) and value and is_secret_name(key)]


def _mask_assignment(text: str) -> str | None:
    name, sep, value = text.partition("=")
    if sep and value and _ASSIGNMENT_NAME.fullmatch(name) and is_secret_name(name):
        return f"{name}={MASK}"
    return None


def mask_argv(argv: list[str], secret_values: Iterable[str] = ()) -> list[str]:
    """A copy of a command line with secrets masked.

    Masks the value after `--api-key`, after `=` in `--token=VALUE` and `KEY=VALUE` (also `--env=KEY=VALUE`)
    when the name looks secret, URL passwords, and every occurrence of a known secret value, so a secret
    passed both in the environment and as an argument is masked everywhere.
    """
    values = _searchable(secret_values)
    masked: list[str] = []
    mask_next = False
    for arg in argv:
        if mask_next:
            mask_next = False
            if not arg.startswith("-"):
                masked.append(MASK)
                continue
        result: str | None = None
        if arg.startswith("-") and len(arg) > 1 and not arg[1].isdigit():
            name, sep, value = arg.lstrip("-").partition("=")
            if is_secret_name(name):
                if not sep:
                    mask_next = True
                elif value:
                    result = f"{arg[: len(arg) - len(value)]}{MASK}"
            elif sep:
                inner = _mask_assignment(value)
                result = None if inner is None else f"{arg[: len(arg) - len(value)]}{inner}"
        else:
            result = _mask_assignment(arg)
        masked.append(_replace_values(mask_text(arg if result is None else result), values))
    return masked
