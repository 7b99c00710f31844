"""Importing nexus_api (and its keyset engine) needs no app loading and no optional extras."""

from __future__ import annotations

import subprocess
import sys

import pytest

import nexus_api


def test_import_needs_no_django_setup_nor_extras() -> None:
    code = (
        "import sys, nexus_api, nexus_api.keyset\n"
        "loaded = [m for m in ('graphene', 'rest_framework', 'drf_spectacular') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_lazy_public_names() -> None:
    from nexus_api.graphql import KeysetConnectionField
    from nexus_api.pagination import InvalidCursor, KeysetPagination, PageNumberPagination

    assert nexus_api.KeysetPagination is KeysetPagination
    assert nexus_api.PageNumberPagination is PageNumberPagination
    assert nexus_api.InvalidCursor is InvalidCursor
    assert nexus_api.KeysetConnectionField is KeysetConnectionField
    assert "KeysetPagination" in dir(nexus_api)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = nexus_api.nope
