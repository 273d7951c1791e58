"""The gate's result where CI systems look: JUnit XML (GitLab's and Jenkins' test reports), Markdown (a merge
request comment, GitHub's step summary).

JUnit: one `<testsuite name="paddlectl gate">` in `<testsuites>`, one `<testcase>` per check (classname
`paddlectl.gate.<kind>`), a failed check as `<failure>` whose message and text are the numbers, a skipped one as
`<skipped>`. tests/data/junit.xsd is the schema it is checked against. Markdown: a table, no images (nothing
hosted elsewhere).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from paddlectl.ci.gate import GateCheck, GateResult, Outcome
from paddlectl.errors import ExitCode, PaddlectlError

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
SUITE_NAME = "paddlectl gate"


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def check_numbers(check: GateCheck) -> str:
    """`actual 0.91 baseline 0.95 limit 0.9405 noise 0.004`: the figures of a check, the ones it has."""
    parts = [
        f"{name} {_number(value)}"
        for name, value in (
            ("actual", check.actual),
            ("baseline", check.baseline),
            ("limit", check.limit),
            ("noise", check.noise),
        )
        if value is not None
    ]
    return " ".join(parts)


def _failure_text(check: GateCheck) -> str:
    numbers = check_numbers(check)
    return f"{check.check}: {check.message}" + (f"\n{numbers}" if numbers else "")


def junit_xml(result: GateResult, timestamp: str) -> str:
    """The result as a JUnit XML document (text, with its declaration)."""
    failures = sum(check.outcome is Outcome.FAIL for check in result.checks)
    skipped = sum(check.outcome is Outcome.SKIP for check in result.checks)
    counts = {"tests": str(len(result.checks)), "failures": str(failures), "errors": "0"}
    suites = ET.Element("testsuites", {"name": SUITE_NAME, **counts, "time": "0"})
    suite = ET.SubElement(
        suites,
        "testsuite",
        {"name": SUITE_NAME, **counts, "skipped": str(skipped), "time": "0", "timestamp": timestamp},
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("run", result.run),
        ("baseline", result.baseline.facts.label if result.baseline else result.baseline_reference or ""),
        ("verdict", result.verdict),
        ("exit_code", str(int(result.exit_code))),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": value})
    for check in result.checks:
        case = ET.SubElement(
            suite, "testcase", {"name": check.check, "classname": f"paddlectl.gate.{check.kind}", "time": "0"}
        )
        if check.outcome is Outcome.FAIL:
            failure = ET.SubElement(case, "failure", {"message": check.message, "type": check.kind})
            failure.text = _failure_text(check)
        elif check.outcome is Outcome.SKIP:
            ET.SubElement(case, "skipped", {"message": check.message})
        else:
            system_out = ET.SubElement(case, "system-out")
            system_out.text = _failure_text(check)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


_MARK = {Outcome.PASS: "pass", Outcome.FAIL: "**FAIL**", Outcome.SKIP: "skip"}


def markdown(result: GateResult) -> str:
    """The result as a Markdown section: a verdict line, what was compared, one table row per check."""
    verdict = {"passed": "passed", "failed": "**failed**", "incomparable": "**not comparable**"}[result.verdict]
    name = f" ({result.run_name})" if result.run_name else ""
    against = result.baseline.facts.label if result.baseline else f"no baseline ({result.baseline_reference})"
    if result.baseline_reference is None:
        against = "requirements only"
    lines = [
        f"### paddlectl gate: {verdict}",
        "",
        f"Run `{result.run}`{name}"
        + (f", profile `{result.profile}`" if result.profile else "")
        + f", against {against}.",
    ]
    if result.repeats:
        lines.append(f"Repeated {len(result.repeats)} time(s): {', '.join(f'`{run}`' for run in result.repeats)}.")
    lines += ["", "| check | actual | baseline | limit | noise | result | detail |", "|---|---|---|---|---|---|---|"]
    for check in result.checks:
        cells = [
            check.check,
            _number(check.actual),
            _number(check.baseline),
            _number(check.limit),
            _number(check.noise),
            _MARK[check.outcome],
            check.message,
        ]
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    lines += [f"- {_cell(warning)}" for warning in (["", *result.warnings] if result.warnings else [])]
    lines.append("")
    return "\n".join(lines).replace("\n- \n", "\n\n") + "\n"


def write_reports(
    result: GateResult,
    *,
    junit: Path | None,
    markdown_file: Path | None,
    timestamp: str,
    environ: dict[str, str] | None = None,
) -> list[Path]:
    """Write the reports asked for, and append the Markdown to $GITHUB_STEP_SUMMARY when it is set.

    Raises PaddlectlError (exit 74) naming the file that could not be written.
    """
    from paddlectl.foundation.atomic import write_atomic

    env = os.environ if environ is None else environ
    written: list[Path] = []
    outputs: list[tuple[Path, Callable[[], str]]] = []
    if junit is not None:
        outputs.append((junit, lambda: junit_xml(result, timestamp)))
    if markdown_file is not None:
        outputs.append((markdown_file, lambda: markdown(result)))
    for path, render in outputs:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, render())
        except OSError as exc:
            raise _io_error(path, exc) from exc
        written.append(path)
    summary = env.get(STEP_SUMMARY_ENV)
    if summary:
        path = Path(summary)
        try:
            with path.open("a", encoding="utf-8") as handle:  # GitHub gives each step one file to append to
                handle.write(markdown(result))
        except OSError as exc:
            raise _io_error(path, exc) from exc
        written.append(path)
    return written


def _io_error(path: Path, exc: OSError) -> PaddlectlError:
    hint = (
        f"{path} is a folder: name the report file, e.g. {path / 'gate.xml'}"
        if path.is_dir()
        else f"check that {path.parent} is a writable folder"
    )
    return PaddlectlError(f"cannot write the gate report {path}: {exc.strerror}", hint=hint, code=ExitCode.IO)
