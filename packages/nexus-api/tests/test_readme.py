"""The README is part of the product: every setting documented with its real default, and
a quick start that works when pasted into a new project.

The quick-start test runs ``django-admin startproject`` / ``startapp`` in a temporary
directory, writes the README's quick-start blocks into the files they name, migrates, and
sends a paginated, versioned request and a request answered with a problem.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from nexus_api.conf import DEFAULTS

README = Path(__file__).resolve().parent.parent / "README.md"


def section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, flags=re.MULTILINE | re.DOTALL)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_settings_table_lists_every_setting_with_its_default() -> None:
    rows = re.findall(r"^\| `([A-Z_]+)` \| `([^`]+)` \|", section("Settings"), flags=re.MULTILINE)
    documented = dict(rows)
    assert sorted(documented) == sorted(DEFAULTS), "README settings table and conf.ApiSettings differ"
    for name, default in documented.items():
        assert ast.literal_eval(default) == DEFAULTS[name], name


def quick_start_files() -> list[tuple[str, bool, str]]:
    """(path, append?, code) for every python block of the quick start."""
    files = []
    for block in re.findall(r"```python\n(.*?)```", section("Quick start"), flags=re.DOTALL):
        first, _, code = block.partition("\n")
        match = re.fullmatch(r"# ([\w/]+\.py)(: add at the end)?", first.strip())
        assert match, f"a quick-start block must start with '# <file>': {first!r}"
        files.append((match.group(1), bool(match.group(2)), code))
    return files


CLIENT_SCRIPT = textwrap.dedent(
    """
    import datetime

    import django

    django.setup()
    from django.test import Client
    from django.test.utils import setup_test_environment

    from listings.models import Listing

    setup_test_environment()
    for i in range(5):
        Listing.objects.create(title=f"Flat {i}", city="Lagos", price="120.00")
    client = Client()

    page = client.get("/api/2/listings/", {"page_size": 2})
    assert page.status_code == 200, page.content
    assert page["API-Version"] == "2"
    body = page.json()
    assert [row["name"] for row in body["results"]] == ["Flat 4", "Flat 3"], body
    assert body["previous"] is None and 'rel="next"' in page["Link"]
    second = client.get(body["next"]).json()
    assert [row["name"] for row in second["results"]] == ["Flat 2", "Flat 1"], second
    assert second["previous"]

    old = client.get("/api/1/listings/")
    if datetime.date.today() < datetime.date(2028, 12, 31):
        assert old.status_code == 200, old.content
        assert old.json()["results"][0]["title"] == "Flat 4"
        assert old["Deprecation"].startswith("@") and "Sunset" in old
    else:
        assert old.status_code == 410

    problem = client.get("/api/7/listings/")
    assert problem.status_code == 404
    assert problem["Content-Type"].startswith("application/problem+json")
    assert problem.json()["type"].endswith("unsupported-version"), problem.json()
    assert problem.json()["supported_versions"]
    bad_cursor = client.get("/api/2/listings/", {"cursor": "not-a-cursor"})
    assert bad_cursor.status_code == 400 and bad_cursor.json()["type"].endswith("invalid-cursor")
    print("quick start ok")
    """
)


def test_quick_start_works_in_a_new_project(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "COV_CORE"))}
    env["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
    env["PYTHONPATH"] = str(tmp_path)

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{args}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    run("-m", "django", "startproject", "mysite", ".")
    run("manage.py", "startapp", "listings")
    for path, append, code in quick_start_files():
        target = tmp_path / path
        assert target.parent.is_dir(), f"the quick start names {path}, which a new project does not have"
        if append:
            target.write_text(target.read_text(encoding="utf-8") + "\n" + code, encoding="utf-8")
        else:
            target.write_text(code, encoding="utf-8")
    run("manage.py", "check", "--fail-level", "WARNING")
    run("manage.py", "makemigrations", "listings")
    run("manage.py", "migrate", "--verbosity", "0")
    assert "quick start ok" in run("-c", CLIENT_SCRIPT)


@pytest.mark.parametrize(
    "path", ["mysite/settings.py", "listings/models.py", "listings/api.py", "mysite/urls.py"]
)
def test_quick_start_names_its_files(path: str) -> None:
    assert path in [name for name, _, _ in quick_start_files()]
