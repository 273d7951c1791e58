"""JUnit XML (checked against tests/data/junit.xsd), Markdown, and GitHub's step summary."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import REPO_ROOT
from paddlectl.ci.baselines import Baseline
from paddlectl.ci.comparability import Difference
from paddlectl.ci.gate import GateCheck, GateResult, Outcome
from paddlectl.ci.reports import junit_xml, markdown, write_reports
from paddlectl.errors import PaddlectlError
from paddlectl.runs.facts import RunFacts
from tests.unit.ci.xsd_subset import load_schema, validate

SCHEMA = load_schema(REPO_ROOT / "tests" / "data" / "junit.xsd")
STAMP = "2026-12-01T10:00:00Z"


def _result(*checks: GateCheck, differences: list[Difference] | None = None) -> GateResult:
    baseline = Baseline("registry:digits@production", "registry", RunFacts("digits@1.0.0", {}), "registry:digits")
    result = GateResult("20261201-1", "nightly", "ci", baseline, "registry:digits@production")
    result.checks = list(checks)
    result.differences = differences or []
    return result


REGRESSION = GateCheck(
    "val_acc max drop 1% (higher is better)",
    "metric",
    Outcome.FAIL,
    "-0.08 vs baseline, beyond the limit 0.9405",
    "val_acc",
    0.87,
    0.95,
    0.9405,
    0.004,
)
PASSED = GateCheck("val_acc>=0.8", "requirement", Outcome.PASS, "0.87 satisfies >= 0.8", "val_acc", 0.87, None, 0.8)
SKIPPED = GateCheck("baseline exists", "baseline", Outcome.SKIP, "no production version (warn)")


def test_one_test_case_per_check_and_the_numbers_in_the_failure() -> None:
    document = junit_xml(_result(REGRESSION, PASSED, SKIPPED), STAMP)
    assert validate(document, SCHEMA) == []
    suite = ET.fromstring(document).find("testsuite")
    assert suite is not None and suite.attrib["tests"] == "3" and suite.attrib["failures"] == "1"
    assert suite.attrib["skipped"] == "1" and suite.attrib["timestamp"] == STAMP
    cases = suite.findall("testcase")
    assert [case.attrib["name"] for case in cases] == [REGRESSION.check, PASSED.check, SKIPPED.check]
    failure = cases[0].find("failure")
    assert failure is not None and failure.attrib["message"] == REGRESSION.message
    assert "actual 0.87 baseline 0.95 limit 0.9405 noise 0.004" in str(failure.text)
    assert cases[1].find("failure") is None and cases[2].find("skipped") is not None
    properties = {p.attrib["name"]: p.attrib["value"] for p in suite.iter("property")}
    assert properties == {"run": "20261201-1", "baseline": "digits@1.0.0", "verdict": "failed", "exit_code": "1"}


def test_text_that_needs_escaping_stays_valid() -> None:
    odd = GateCheck('acc<0.9 & "x" ]]> \u00e9', "requirement", Outcome.FAIL, "<b>&amp;</b>", "acc", 1.0)
    document = junit_xml(_result(odd), STAMP)
    assert validate(document, SCHEMA) == []
    assert ET.fromstring(document).find("testsuite/testcase").attrib["name"] == odd.check  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("broken", "says"),
    [
        ('<testsuites><testsuite name="x"/></testsuites>', "attribute tests is required"),
        ('<testsuites><testsuite name="x" tests="one"/></testsuites>', "is not an xs:int"),
        ('<testsuites><testsuite name="x" tests="1" timestamp="yesterday"/></testsuites>', "xs:dateTime"),
        ('<testsuites><testsuite name="x" tests="1"><testcase/></testsuite></testsuites>', "attribute name"),
        ('<testsuites><testsuite name="x" tests="1"><bogus/></testsuite></testsuites>', "<bogus> is not allowed"),
        (
            '<testsuites><testsuite name="x" tests="1"><testcase name="a"><failure><b/></failure></testcase>'
            "</testsuite></testsuites>",
            "inside an element of text only",
        ),
        ('<testsuite name="x" tests="1"><properties/><properties/></testsuite>', "<properties> is not allowed"),
        ("<report/>", "is not a root element"),
    ],
)
def test_the_validator_rejects_what_the_schema_forbids(broken: str, says: str) -> None:
    assert any(says in problem for problem in validate(broken, SCHEMA)), validate(broken, SCHEMA)


def test_markdown_has_the_verdict_and_a_row_per_check() -> None:
    text = markdown(_result(REGRESSION, PASSED))
    lines = text.splitlines()
    assert lines[0] == "### paddlectl gate: **failed**"
    assert "Run `20261201-1` (nightly), profile `ci`, against digits@1.0.0." in text
    assert "| val_acc max drop 1% (higher is better) | 0.87 | 0.95 | 0.9405 | 0.004 | **FAIL** |" in text
    assert sum(line.startswith("| ") for line in lines) == 3  # header and two checks
    incomparable = markdown(_result(differences=[Difference("dataset", "v2", "digits")]))
    assert incomparable.startswith("### paddlectl gate: **not comparable**")


def test_reports_are_written_and_the_step_summary_appended(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    written = write_reports(
        _result(REGRESSION),
        junit=tmp_path / "r" / "gate.xml",
        markdown_file=tmp_path / "r" / "gate.md",
        timestamp=STAMP,
        environ={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert written == [tmp_path / "r" / "gate.xml", tmp_path / "r" / "gate.md", summary]
    assert summary.read_text().startswith("earlier step\n### paddlectl gate")
    assert (tmp_path / "r" / "gate.md").read_text() == summary.read_text().removeprefix("earlier step\n")
    assert write_reports(_result(REGRESSION), junit=None, markdown_file=None, timestamp=STAMP, environ={}) == []


def test_an_unwritable_report_is_an_io_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(PaddlectlError) as caught:
        write_reports(
            _result(REGRESSION), junit=tmp_path / "file" / "gate.xml", markdown_file=None, timestamp=STAMP, environ={}
        )
    assert caught.value.code == 74 and "gate.xml" in caught.value.message
