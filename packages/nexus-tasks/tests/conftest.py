"""Fixtures: real Celery workers (subprocesses) on real brokers.

* ``broker`` is parametrized over Redis and RabbitMQ and makes that broker's app current.
* ``worker`` starts (once per session and broker, restarted when killed) a worker
  subprocess on the session's own queue, pointed at the test database. Tests using it are
  transactional (``transactional_db``): the worker is another process and sees only
  committed data.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import django
import pytest
from celery import Celery
from django.db import connection, connections

from nexus_testing import rabbitmq_url, redis_url

from tests.gates import Gate

PACKAGE_DIR = Path(__file__).resolve().parent.parent

# django.tasks exists from Django 6.0: on 5.2 its contract tests are not collected at all
# (deselected, not skipped: nothing is missing, the 6.x environments run them).
collect_ignore = (
    []
    if django.VERSION >= (6, 0)
    else ["test_django_tasks_backend.py", "test_django_contract.py", "djtasks.py", "contract_tasks.py"]
)


class Worker:
    """A ``celery worker`` subprocess with the solo pool: the task runs in the process that
    holds the broker connection, so SIGKILL really takes the unacknowledged message down
    with it."""

    def __init__(self, app_name: str, app: Celery, db_name: str, pool: str = "solo") -> None:
        self.pool = pool
        self.app_name = app_name
        self.app = app
        self.db_name = db_name
        self.proc: subprocess.Popen[bytes] | None = None
        self.queues: str | None = None
        self.generation = 0

    @property
    def hostname(self) -> str:
        return f"{self.app_name}-{self.pool}-{os.getpid()}-{self.generation}@nexus"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        self.generation += 1
        env = dict(os.environ)
        env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
        env["NEXUS_TASKS_WORKER_DB"] = self.db_name
        env["NEXUS_TASKS_WORKER_DB_OTHER"] = connections["other"].settings_dict["NAME"]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_DIR), env.get("PYTHONPATH")]))
        log = (
            Path(os.environ.get("NEXUS_TASKS_TEST_LOGDIR") or tempfile.gettempdir())
            / f"{env['NEXUS_TASKS_TEST_NS']}-{self.app_name}-{self.pool}.log"
        )
        self.log_path = log
        offset = log.stat().st_size if log.exists() else 0
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    f"tests.celery_app:{self.app_name}",
                    "worker",
                    f"--pool={self.pool}",
                    "-Q",
                    self.queues or f"{env['NEXUS_TASKS_TEST_NS']},{env['NEXUS_TASKS_TEST_NS']}.high",
                    "--concurrency=1",
                    "-n",
                    self.hostname,
                    "--without-gossip",
                    "--without-mingle",
                    "--loglevel=INFO",
                ],
                cwd=PACKAGE_DIR,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        # The log, not a ping: a restarted solo worker may be busy at once with a
        # redelivered message and would not answer a ping until it is done. It is up when
        # it says "ready.", or when it already received a message after connecting (a
        # solo worker runs the messages it finds before it announces itself).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}; see {log}")
            with log.open("rb") as f:
                f.seek(offset)
                text = f.read()
            connected = text.find(b"Connected to ")
            if b" ready." in text or (connected >= 0 and b"] received" in text[connected:]):
                return
            time.sleep(0.05)
        # Not left running: a worker retrying an unreachable broker forever would outlive
        # the test and surface as a ResourceWarning in whichever test runs next.
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError(f"worker was not ready within 30s; see {log}")

    def ensure(self) -> Worker:
        if not self.alive():
            self.start()
        return self

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no ack, no cleanup — a crashed machine."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


_workers: dict[str, Worker] = {}

#: Fixtures that talk to Redis whatever the test is about (the ``broker`` fixture's
#: parameters carry their own markers). A test using one gets ``requires_redis``, so that
#: without Redis it is skipped with the plugin's one-line reason (or fails under
#: NEXUS_REQUIRE_SERVICES=1) before any of them tries to connect or start a worker.
REDIS_FIXTURES = frozenset({"redis_broker", "redis_worker", "prefork_worker", "eager"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixturenames = getattr(item, "fixturenames", ())
        if REDIS_FIXTURES.intersection(fixturenames) and item.get_closest_marker("requires_redis") is None:
            item.add_marker(pytest.mark.requires_redis)


@pytest.fixture(scope="session", autouse=True)
def _stop_workers_and_queues(django_db_setup: None) -> Iterator[None]:
    # Depends on django_db_setup so that workers (which hold connections to the test
    # database) stop before the test database is dropped.
    # Any publish outside a ``broker`` fixture goes to this session's own queue on Redis,
    # never to an unconfigured default app's shared "celery" queue.
    from tests import celery_app

    celery_app.redis_app.set_default()
    yield
    for worker in _workers.values():
        worker.stop()
    _delete_own_queues()


def _delete_own_queues() -> None:
    """Delete only the queues this session created (its namespace), never others'."""
    from tests import celery_app

    for app in (celery_app.redis_app, celery_app.amqp_app):
        with contextlib.suppress(Exception), app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
            channel = conn.default_channel
            for queue in (
                celery_app.NAMESPACE,
                f"{celery_app.NAMESPACE}.high",
                f"{celery_app.NAMESPACE}.prefork",
            ):
                with contextlib.suppress(Exception):
                    channel.queue_delete(queue)


BROKERS = [
    pytest.param("redis", marks=pytest.mark.requires_redis, id="redis"),
    pytest.param("rabbitmq", marks=pytest.mark.requires_rabbitmq, id="rabbitmq"),
]


@pytest.fixture(params=BROKERS)
def broker(request: pytest.FixtureRequest) -> Iterator[str]:
    """The broker under test; its Celery app is the current one for the test."""
    from tests import celery_app

    app = celery_app.redis_app if request.param == "redis" else celery_app.amqp_app
    with current_app(app):
        yield request.param


@contextlib.contextmanager
def current_app(app: Celery) -> Iterator[Celery]:
    from celery import _state

    previous = _state.default_app
    previous_tls = getattr(_state._tls, "current_app", None)
    app.set_current()
    app.set_default()
    try:
        yield app
    finally:
        _state._tls.current_app = previous_tls
        _state.default_app = previous


def close_app(app: Celery) -> None:
    """Close every connection a throw-away app opened (pools and result backend)."""
    with contextlib.suppress(Exception):
        app.backend.client.connection_pool.disconnect()
    app.close()


@pytest.fixture
def redis_broker() -> Iterator[str]:
    from tests import celery_app

    with current_app(celery_app.redis_app):
        yield "redis"


def _worker_for(broker: str) -> Worker:
    from tests import celery_app

    app_name = "redis_app" if broker == "redis" else "amqp_app"
    app = getattr(celery_app, app_name)
    db_name = connection.settings_dict["NAME"]
    existing = _workers.get(app_name)
    if existing is None or existing.db_name != db_name:
        existing = _workers[app_name] = Worker(app_name, app, db_name)
    return existing.ensure()


@pytest.fixture
def worker(broker: str, transactional_db: None) -> Worker:
    """A live worker for ``broker`` on the session's queue (restarted if a test killed it)."""
    return _worker_for(broker)


@pytest.fixture
def prefork_worker(redis_broker: str, transactional_db: None) -> Iterator[Worker]:
    """A prefork worker (hard time limits need a child process to kill) on its own
    queue, for the one test about time-limit kills; stopped after the test."""
    from tests import celery_app

    worker = Worker("redis_app", celery_app.redis_app, connection.settings_dict["NAME"], pool="prefork")
    worker.queues = f"{celery_app.NAMESPACE}.prefork"
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def redis_worker(redis_broker: str, transactional_db: None) -> Worker:
    """A live worker on Redis only, for tests about something other than the broker."""
    return _worker_for("redis")


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture
def gate(unique_namespace: str) -> Iterator[Gate]:
    """The gate of tasks tagged ``unique_namespace``; opened when the test ends, so a
    leftover delivery of a gated task finishes at once on whichever worker gets it."""
    gate = Gate(unique_namespace)
    yield gate
    gate.open()


@contextlib.contextmanager
def celery_conf(app: Celery, **conf: object) -> Iterator[Celery]:
    """Change Celery settings of ``app`` for a block (what a project's CELERY_* test
    settings would set), and put the previous values back."""
    previous = {key: app.conf[key] for key in conf}
    app.conf.update(conf)
    try:
        yield app
    finally:
        app.conf.update(previous)


@pytest.fixture
def eager(redis_broker: str) -> Iterator[Celery]:
    """Celery as a project's test settings often run it: CELERY_TASK_ALWAYS_EAGER and
    _EAGER_PROPAGATES (CELERY_TASK_STORE_EAGER_RESULT is on in tests.settings, because
    Celery copies it onto each task when the app is finalized, not when it is read)."""
    from celery import current_app

    with celery_conf(
        current_app._get_current_object(), task_always_eager=True, task_eager_propagates=True
    ) as app:
        yield app


@pytest.fixture
def broker_url(broker: str) -> str:
    return redis_url() if broker == "redis" else rabbitmq_url()


@pytest.fixture(autouse=True)
def _reset_publish_breaker() -> Iterator[None]:
    """A test that cut the broker must not leave the circuit breaker open for the next."""
    from nexus_tasks._dispatch import reset_breaker

    reset_breaker()
    yield
    reset_breaker()
