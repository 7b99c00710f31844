"""A project that names NexusVersioning as DRF's default versioning class must start.

rest_framework.views reads DEFAULT_VERSIONING_CLASS while it is imported; if
nexus_api.versioning imported rest_framework.views at module level (directly or through
nexus_api.errors), startup would fail with a circular import. Only a fresh interpreter
shows this, hence the subprocess.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_django_setup_with_nexus_versioning_as_drf_default() -> None:
    code = textwrap.dedent(
        """
        import django
        from django.conf import settings

        settings.configure(
            INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "rest_framework", "nexus_api"],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            REST_FRAMEWORK={
                "DEFAULT_VERSIONING_CLASS": "nexus_api.versioning.NexusVersioning",
                "EXCEPTION_HANDLER": "nexus_api.errors.problem_exception_handler",
            },
        )
        django.setup()
        from rest_framework.views import APIView

        print(APIView.versioning_class.__name__)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "NexusVersioning"
