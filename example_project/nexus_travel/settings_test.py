"""Settings for the example project's own test suite: the real settings, with the worker
run in-process (eager) and cache keys unique to the run so parallel runs never meet."""

from __future__ import annotations

import uuid

from nexus_travel.settings import *  # noqa: F403
from nexus_travel.settings import CACHES

CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CACHES["default"]["KEY_PREFIX"] = f"travel-test-{uuid.uuid4().hex[:8]}"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Eager tasks still store their result (and progress) so TaskStatusView can be tested;
# an in-process backend keeps runs independent of each other.
CELERY_TASK_STORE_EAGER_RESULT = True
CELERY_RESULT_BACKEND = "cache+memory://"
