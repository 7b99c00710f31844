"""nexus-tasks: Celery tasks for Django that are never lost, never run early, never run twice.

Importing this package needs neither app loading nor Django REST framework: names that do
are loaded on first access (module ``__getattr__``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nexus_tasks.exceptions import TaskArgumentError, TaskPublishError

__version__ = "0.1.0.dev0"

__all__ = [
    "TaskArgumentError",
    "TaskPublishError",
    "TaskStatusView",
    "__version__",
    "periodic_task",
    "task",
]

if TYPE_CHECKING:
    from nexus_tasks._task import task
    from nexus_tasks.periodic import periodic_task
    from nexus_tasks.views import TaskStatusView

_LAZY = {
    "task": ("nexus_tasks._task", "task"),
    "periodic_task": ("nexus_tasks.periodic", "periodic_task"),
    "TaskStatusView": ("nexus_tasks.views", "TaskStatusView"),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'nexus_tasks' has no attribute {name!r}") from None
    import importlib

    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value
