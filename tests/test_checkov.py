"""checkov (its own virtual environment, built here if missing) finds no failed check in
terraform/, and every check it skips is skipped inline with a reason."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
TERRAFORM = REPO / "terraform"
_spec = importlib.util.spec_from_file_location("checkov_venv", REPO / "scripts" / "checkov_venv.py")
assert _spec is not None
assert _spec.loader is not None
checkov_venv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checkov_venv)

SKIP_COMMENT = re.compile(r"#\s*checkov:skip=(?P<check>CKV2?_AWS_\d+):(?P<reason>.*)$", re.M)


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    try:
        checkov = checkov_venv.ensure()
    except subprocess.CalledProcessError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"could not build .venv-checkov ({exc}); run `make checkov-venv`")
    result = subprocess.run(
        [
            str(checkov),
            "--directory",
            str(TERRAFORM),
            "--framework",
            "terraform",
            "--skip-download",
            "--compact",
            "--output",
            "json",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.stdout, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    data["returncode"] = result.returncode
    return data


def inline_skips() -> list[tuple[str, str, str]]:
    """(file, check id, reason) of every ``#checkov:skip=`` comment."""
    return [
        (path.name, match["check"], match["reason"].strip())
        for path in sorted(TERRAFORM.glob("*.tf"))
        for match in SKIP_COMMENT.finditer(path.read_text(encoding="utf-8"))
    ]


def test_checkov_reports_no_failed_check(report: dict[str, Any]) -> None:
    summary = report["summary"]
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']})"
        for c in report["results"]["failed_checks"]
    ]
    assert failed == []
    assert summary["failed"] == 0
    assert summary["parsing_errors"] == 0
    assert report["returncode"] == 0
    assert report["check_type"] == "terraform"
    # It really looked: the configuration's resources were scanned and checks passed.
    assert summary["resource_count"] >= 20
    assert summary["passed"] >= 50
    assert summary["checkov_version"] == "3.3.30"


def test_every_skip_is_inline_with_a_reason(report: dict[str, Any]) -> None:
    skipped = report["results"]["skipped_checks"]
    assert skipped, "expected the documented inline skips"
    for check in skipped:
        reason = (check["check_result"].get("suppress_comment") or "").strip()
        assert len(reason) >= 30, (check["check_id"], check["resource"], reason)
    for file, check_id, reason in inline_skips():
        assert len(reason) >= 30, (file, check_id, reason)
    # Each inline skip suppresses a check that runs (no stale or mistyped skips).
    assert {check["check_id"] for check in skipped} == {c for _, c, _ in inline_skips()}
    assert report["summary"]["skipped"] == len(skipped)
