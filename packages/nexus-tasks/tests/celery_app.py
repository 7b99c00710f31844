"""The test project's Celery apps, one per broker, both configured from Django settings.

The library never creates an app; a project does, like this. Workers are started with
``celery -A tests.celery_app:redis_app`` (or ``amqp_app``).
"""

from __future__ import annotations

import os

from celery import Celery

from nexus_testing import rabbitmq_url, redis_url

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

NAMESPACE = os.environ.get("NEXUS_TASKS_TEST_NS", "nxt")


def redis_transport_options() -> dict[str, object]:
    # The unacked index of kombu's Redis transport is global to the Redis database; the
    # prefix keeps this session's short visibility timeout from touching other suites'
    # messages, and the short timeout makes redelivery after a SIGKILL take seconds.
    return {
        "global_keyprefix": f"{NAMESPACE}:",
        "visibility_timeout": 6,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
        "socket_connect_timeout": 1,
        "socket_timeout": 5,
        # django.tasks priorities: kombu's priority lists, 0 first.
        "queue_order_strategy": "priority",
        "priority_steps": list(range(10)),
    }


def make_app(name: str, broker_url: str) -> Celery:
    app = Celery(name, include=["tests.tasks", "nexus_tasks.tasks"], set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.broker_url = broker_url
    if broker_url.startswith("redis"):
        app.conf.broker_transport_options = redis_transport_options()
    else:
        app.conf.broker_transport_options = {"connect_timeout": 1}
    return app


redis_app = make_app("nexus_redis", redis_url())
amqp_app = make_app("nexus_amqp", rabbitmq_url())
