#!/usr/bin/env python3
"""Fail when a package's code changed since BASE but its CHANGELOG.md did not.

    python3 scripts/check_changelog.py origin/main

Each package is released on its own, so each change to what ships in its wheel must be
recorded in its own changelog (tests, benchmarks and docs do not count as shipped code).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def changed_files(base: str) -> list[str]:
    out = subprocess.run(
        ["git", "diff", "--name-only", f"{base}...HEAD"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return [line for line in out.splitlines() if line]


def main(base: str) -> int:
    files = changed_files(base)
    status = 0
    for package in sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists()):
        prefix = f"packages/{package}/"
        shipped = [f for f in files if f.startswith((prefix + "src/", prefix + "pyproject.toml"))]
        if shipped and prefix + "CHANGELOG.md" not in files:
            print(f"{package}: {len(shipped)} shipped file(s) changed but {prefix}CHANGELOG.md did not:")
            for f in shipped[:10]:
                print(f"  {f}")
            status = 1
    if status == 0:
        print("changelog check: every changed package records its change")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "origin/main"))
