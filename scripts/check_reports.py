#!/usr/bin/env python3
"""Fail CI when an environment of tox's default list produced no test report, when no test
ran at all, or when a report records a failure. tox alone passes when every environment
was skipped (a missing interpreter, say); this makes that a failure."""

from __future__ import annotations

import configparser
import itertools
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def expand(spec: str) -> list[str]:
    """tox's generative names: {a,b}-py311 -> a-py311, b-py311."""
    parts = re.split(r"(\{[^}]*\})", spec)
    choices = [p[1:-1].split(",") if p.startswith("{") else [p] for p in parts]
    return ["".join(combo) for combo in itertools.product(*choices)]


def expected_test_envs() -> list[str]:
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "tox.ini")
    specs = [line.strip() for line in config["tox"]["env_list"].splitlines() if line.strip()]
    envs = [env for spec in specs for env in expand(spec)]
    # lint, type, packaging and coverage run no pytest; example and the package envs do.
    return [env for env in envs if env not in ("lint", "type", "packaging", "coverage")]


def main(report_dir: str) -> int:
    reports = Path(report_dir)
    total = failures = 0
    missing = []
    for env in expected_test_envs():
        path = reports / f"{env}.xml"
        if not path.exists():
            missing.append(env)
            continue
        for suite in ET.parse(path).getroot().iter("testsuite"):
            total += int(suite.get("tests", 0))
            failures += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    print(f"check_reports: {total} tests, {failures} failed, missing environments: {missing or 'none'}")
    coverage_xml = ROOT / "coverage.xml"
    if coverage_xml.exists():
        # tox -p hides the coverage env's report when it passes; show the combined figure.
        root = ET.parse(coverage_xml).getroot()
        print(
            f"check_reports: combined coverage {float(root.get('line-rate', 0)) * 100:.1f}% of lines, "
            f"{float(root.get('branch-rate', 0)) * 100:.1f}% of branches"
        )
    if missing or failures or total == 0:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".reports"))
