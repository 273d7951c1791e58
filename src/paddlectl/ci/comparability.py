"""Whether a candidate and its baseline measured the same thing: same data, profile, image and evaluation params.

A gate between runs on different data proves nothing, so each of these that differs is named, and the gate exits
INCOMPARABLE (7) unless `--allow-different KEY` accepts it:

    dataset          the `dataset` label, else the `dataset` param (what the model card names)
    dataset_digest   the `dataset_digest` label, else param (e.g. --label dataset_digest=sha256:...)
    profile          the train profile's name and the values it set (`train --profile ci`)
    image            the image's registry digest, else its local id
    PARAM            each param named by gate.evaluation_params in paddlectl.yaml or --eval-param

A value that neither side recorded is equal; one that only one side recorded differs ("not recorded").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from paddlectl.errors import UsageError
from paddlectl.runs.facts import RunFacts

FIXED_KEYS = ("dataset", "dataset_digest", "profile", "image")
NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Difference:
    key: str
    candidate: Any
    baseline: Any
    allowed: bool = False

    def describe(self) -> str:
        return f"{self.key}: {_shown(self.candidate)} (candidate) vs {_shown(self.baseline)} (baseline)"

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "candidate": self.candidate, "baseline": self.baseline, "allowed": self.allowed}


def _shown(value: Any) -> str:
    return NOT_RECORDED if value is None else str(value)


def _profile(facts: RunFacts) -> str | None:
    """The part of a profile record that decides what was measured, its name and the params it set, as text:
    `ci (data_limit=600, epochs=5)`."""
    if facts.profile is None:
        return None
    params = facts.profile.get("params") or {}
    values = ", ".join(f"{key}={_number_text(params[key])}" for key in sorted(params))
    return f"{facts.profile.get('name')} ({values})" if values else str(facts.profile.get("name"))


def _number_text(value: Any) -> str:
    """3 and 3.0 alike (a record read back may type a number either way)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _digest(facts: RunFacts) -> Any:
    return facts.labels.get("dataset_digest", facts.params.get("dataset_digest"))


def _equal(a: Any, b: Any) -> bool:
    """Equal as recorded, with 3 and 3.0 the same (a card read back from YAML may type a number either way)."""
    if (
        isinstance(a, int | float)
        and isinstance(b, int | float)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return float(a) == float(b)
    return bool(a == b)


def check_allowed_keys(allowed: Iterable[str], evaluation_params: Iterable[str]) -> set[str]:
    """The --allow-different keys, each one the gate compares; UsageError for one it does not (a typo)."""
    known = [*FIXED_KEYS, *evaluation_params]
    keys = {key.strip() for text in allowed for key in text.split(",") if key.strip()}
    unknown = sorted(keys - set(known))
    if unknown:
        raise UsageError(
            f"--allow-different {', '.join(unknown)}: the gate compares no such thing",
            hint=f"it compares {', '.join(known)} (params: gate.evaluation_params in paddlectl.yaml, --eval-param)",
        )
    return keys


def differences(
    candidate: RunFacts, baseline: RunFacts, evaluation_params: Iterable[str], allowed: set[str]
) -> list[Difference]:
    """Every compared value that differs between the two, each marked allowed or not."""
    pairs: list[tuple[str, Any, Any]] = [
        ("dataset", candidate.dataset, baseline.dataset),
        ("dataset_digest", _digest(candidate), _digest(baseline)),
        ("profile", _profile(candidate), _profile(baseline)),
        ("image", candidate.image, baseline.image),
    ]
    pairs += [
        (name, candidate.params.get(name), baseline.params.get(name)) for name in dict.fromkeys(evaluation_params)
    ]
    return [Difference(key, mine, theirs, key in allowed) for key, mine, theirs in pairs if not _equal(mine, theirs)]
