#!/usr/bin/env python3
"""The two commands of the README, in Python so they work the same with or without make.

    python3 scripts/dev.py run     # the example project on its embedded default, at :8000
    python3 scripts/dev.py test    # the whole test suite (tox's default environments)

Each creates and reuses its own virtual environment (.venv for the project, .venv-tox for
tox); nothing is installed globally. Extra arguments after `test` go to tox.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example_project"
RUN_VENV = ROOT / ".venv"
TOX_VENV = ROOT / ".venv-tox"
PACKAGES = [
    "packages/nexus-cache[redis,drf,graphene]",
    "packages/nexus-tasks[redis,drf]",
    "packages/nexus-api[graphql,openapi]",
]
TOX_REQUIREMENTS = ["tox>=4.23", "tox-uv>=1.20"]


def venv_python(path: Path) -> Path:
    return path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv(path: Path, installs: list[list[str]], inputs: list[Path]) -> Path:
    """Create the venv once; reinstall only when what it was built from changed."""
    python = venv_python(path)
    if not python.exists():
        print(f"-> creating {path.name}", flush=True)
        venv.create(path, with_pip=True)
    digest = hashlib.sha256()
    for item in installs:
        digest.update(" ".join(item).encode())
    for file in inputs:
        digest.update(file.read_bytes())
    stamp = path / ".nexus-stamp"
    if not stamp.exists() or stamp.read_text() != digest.hexdigest():
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
        for args in installs:
            print(f"-> pip install {' '.join(args)}", flush=True)
            subprocess.run([python, "-m", "pip", "install", "--quiet", *args], cwd=ROOT, check=True)
        stamp.write_text(digest.hexdigest())
    return python


def run() -> int:
    editable = [arg for pkg in PACKAGES for arg in ("-e", pkg)]
    python = ensure_venv(
        RUN_VENV,
        [["-r", "example_project/requirements.txt", *editable]],
        [EXAMPLE / "requirements.txt", *(ROOT / p.split("[")[0] / "pyproject.toml" for p in PACKAGES)],
    )
    env = dict(os.environ)
    manage = [str(python), "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput"], cwd=EXAMPLE, env=env, check=True)
    subprocess.run([*manage, "seed", "--if-empty"], cwd=EXAMPLE, env=env, check=True)
    var = Path(env.get("NEXUS_TRAVEL_VAR_DIR", EXAMPLE / "var"))
    var.mkdir(parents=True, exist_ok=True)
    # A real worker process (with beat embedded, for the periodic tasks) beside the web
    # server; both share the SQLite file, the file-based cache and the filesystem broker.
    worker = subprocess.Popen(
        [
            str(python),
            "-m",
            "celery",
            "-A",
            "nexus_travel",
            "worker",
            "--beat",
            "--schedule",
            str(var / "celerybeat-schedule"),
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
        ],
        cwd=EXAMPLE,
        env=env,
    )
    # `kill <pid>` of this script must stop the worker too, not orphan it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(
        "-> Nexus Travel at http://127.0.0.1:8000/  (log in as demo / demo; Ctrl-C stops web and worker)",
        flush=True,
    )
    try:
        return subprocess.call([*manage, "runserver", "127.0.0.1:8000"], cwd=EXAMPLE, env=env)
    except KeyboardInterrupt:
        return 0
    finally:
        if worker.poll() is None:
            worker.terminate()  # SIGTERM: Celery's warm shutdown finishes the task at hand
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()


def test(args: list[str]) -> int:
    python = ensure_venv(TOX_VENV, [TOX_REQUIREMENTS], [])
    return subprocess.call([str(python), "-m", "tox", *args], cwd=ROOT)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test"):
        print(__doc__)
        return 2
    if sys.version_info < (3, 11):  # noqa: UP036 (an old interpreter must be told why)
        print("Nexus needs Python 3.11 or newer.", file=sys.stderr)
        return 2
    return run() if argv[0] == "run" else test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
