#!/usr/bin/env python3
"""Build every package's wheel and sdist, check them as PyPI would, install all three
wheels into a fresh virtual environment and start a new Django project with them.

Run by `tox -e packaging`. Checks: wheel and sdist build with hatchling; `twine check
--strict`; the wheel carries py.typed and the version from __init__.py; `manage.py check`
passes for a project with nexus_cache, nexus_tasks and nexus_api installed, and a
deliberate misconfiguration of each package fails with that package's system-check id.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import textwrap
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["nexus-cache", "nexus-tasks", "nexus-api"]
MISCONFIGURED = {
    "nexus_cache.E005": 'NEXUS_CACHE = {"CACHE_ALIAS": "nope"}',
    "nexus_tasks.E004": 'NEXUS_TASKS = {"DISPATCH": "whenever"}',
    "nexus_api.E004": 'NEXUS_API = {"VERSIONS": {"1": {}}, "DEFAULT_VERSION": "9"}',
}


def sh(*args: str | Path, cwd: Path | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True)
    if ok and done.returncode != 0:
        sys.exit(f"FAILED: {' '.join(map(str, args))}\n{done.stdout}\n{done.stderr}")
    return done


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        dist = tmp / "dist"
        wheels = []
        for package in PACKAGES:
            module = package.replace("-", "_")
            version = re.search(
                r'__version__ = "([^"]+)"',
                (ROOT / "packages" / package / "src" / module / "__init__.py").read_text(),
            )
            assert version, f"{package}: no __version__"
            sh(
                sys.executable,
                "-m",
                "build",
                "--installer",
                "uv",
                "--outdir",
                dist / package,
                ROOT / "packages" / package,
            )
            [wheel] = (dist / package).glob("*.whl")
            [sdist] = (dist / package).glob("*.tar.gz")
            names = zipfile.ZipFile(wheel).namelist()
            assert f"{module}/py.typed" in names, f"{wheel.name} lacks py.typed"
            assert f"-{version.group(1)}-" in wheel.name, f"{wheel.name} is not version {version.group(1)}"
            sh(sys.executable, "-m", "twine", "check", "--strict", wheel, sdist)
            print(f"ok  {wheel.name}  {sdist.name}  (py.typed, twine check)")
            wheels.append(wheel)

        env_dir = tmp / "venv"
        venv.create(env_dir, with_pip=True)
        python = env_dir / "bin" / "python"
        sh(python, "-m", "pip", "install", "--quiet", *map(str, wheels))
        project = tmp / "newproject"
        project.mkdir()
        sh(env_dir / "bin" / "django-admin", "startproject", "newproject", project)
        settings = project / "newproject" / "settings.py"
        base = settings.read_text().replace(
            "INSTALLED_APPS = [",
            'INSTALLED_APPS = [\n    "nexus_cache",\n    "nexus_tasks",\n    "nexus_api",',
        )
        settings.write_text(base)
        sh(python, "manage.py", "check", cwd=project)
        print("ok  a new project with the three apps passes `manage.py check`")
        for check_id, setting in MISCONFIGURED.items():
            settings.write_text(base + "\n" + textwrap.dedent(setting) + "\n")
            done = sh(python, "manage.py", "check", cwd=project, ok=False)
            assert done.returncode != 0, f"{check_id}: manage.py check passed a misconfiguration"
            assert check_id in done.stderr, f"{check_id} not reported:\n{done.stderr}"
            print(f"ok  misconfiguration reported as {check_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
