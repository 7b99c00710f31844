"""What a task argument may be, and the canonical JSON used for unique keys.

Messages are JSON (kombu's encoder). Besides JSON's own types, kombu carries
``datetime``, ``date``, ``time``, ``Decimal`` and ``UUID`` as tagged objects
(``{"__type__": "datetime", "__value__": "2026-01-01T10:00:00+00:00"}``) and decodes them
back to the same type in the worker, so those are accepted. Tuples arrive as lists. Every
other value is refused at the call site with the parameter's name.
"""

from __future__ import annotations

import datetime
import decimal
import inspect
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nexus_tasks._message import dumps
from nexus_tasks.exceptions import TaskArgumentError

_SCALARS = (str, int, bool, type(None), datetime.date, datetime.time, decimal.Decimal, uuid.UUID)
#: Carried by kombu's type tags, but not by django.tasks, whose arguments are plain JSON.
_TAGGED = (datetime.date, datetime.time, decimal.Decimal, uuid.UUID)


def _path_repr(path: list[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part!r}]"
    return out


def _describe(value: object) -> str:
    return f"{type(value).__module__}.{type(value).__qualname__}"


def check_value(
    value: object,
    parameter: str,
    task_name: str,
    path: list[str | int] | None = None,
    *,
    json_only: bool = False,
) -> None:
    """Raise :class:`TaskArgumentError` unless ``value`` round-trips through the message.

    ``json_only`` applies django.tasks' rule instead of kombu's: no tagged types (Django
    raises ``TypeError("Unsupported type ...")`` for them), and bytes are left to
    Django's ``normalize_json``, which decodes UTF-8.
    """
    path = path or []
    if json_only and isinstance(value, _TAGGED):
        _fail(
            task_name,
            parameter,
            path,
            f"is a {_describe(value)}: Unsupported type for django.tasks, whose arguments "
            "are plain JSON; pass it as a string (isoformat() or str()) and parse it in the task",
        )
    if json_only and isinstance(value, bytes):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            _fail(task_name, parameter, path, f"{value!r} is not a finite number and JSON cannot carry it")
        return
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            _fail(task_name, parameter, path, f"Decimal {value!r} is not finite")
        return
    if isinstance(value, _SCALARS):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                _fail(
                    task_name,
                    parameter,
                    path,
                    f"has a {type(key).__name__} key {key!r}; JSON object keys must be str "
                    "(they would arrive as strings)",
                )
            check_value(item, parameter, task_name, [*path, key], json_only=json_only)
        return
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_value(item, parameter, task_name, [*path, index], json_only=json_only)
        return
    if _is_model_instance(value):
        pk = getattr(value, "pk", None)
        _fail(
            task_name,
            parameter,
            path,
            f"is a {type(value).__name__} model instance; pass its pk ({pk!r}) and load it in the task",
        )
    if isinstance(value, bytes | bytearray | memoryview):
        _fail(task_name, parameter, path, "is bytes; JSON carries text only (encode it, e.g. base64)")
    if isinstance(value, set | frozenset):
        _fail(task_name, parameter, path, "is a set; pass a sorted list")
    _fail(task_name, parameter, path, f"is a {_describe(value)}, which JSON messages cannot carry")


def _is_model_instance(value: object) -> bool:
    # Importing django.db.models here (not at module level) keeps this module free of app
    # loading; Model instances only exist once apps are loaded anyway.
    try:
        from django.db.models import Model
    except ImportError:  # pragma: no cover - Django is a dependency
        return False
    return isinstance(value, Model)


def _fail(task_name: str, parameter: str, path: list[str | int], reason: str) -> None:
    where = f"{parameter}{_path_repr(path)}"
    raise TaskArgumentError(
        f"Argument {where!r} of task {task_name!r} {reason}.", parameter=parameter, path=where
    )


def validate_arguments(
    func: Callable[..., Any] | None,
    task_name: str,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    *,
    json_only: bool = False,
) -> None:
    """Bind ``args``/``kwargs`` to ``func``'s signature and check every value.

    Binding first means a wrong number of arguments or an unknown keyword is reported now,
    at the call site, the same way Python would report it for a direct call; positional
    values are then named after the parameter they bind to.
    """
    names: dict[int, str] = {}
    signature = _signature(func)
    if signature is not None:
        try:
            signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TaskArgumentError(f"Task {task_name!r} called with wrong arguments: {exc}.") from None
        params = list(signature.parameters.values())
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        var_pos = next((p.name for p in params if p.kind is p.VAR_POSITIONAL), "args")
        for index in range(len(args)):
            if index < len(positional):
                names[index] = positional[index].name
            else:
                names[index] = f"{var_pos}[{index - len(positional)}]"
    for index, value in enumerate(args):
        check_value(value, names.get(index, f"args[{index}]"), task_name, json_only=json_only)
    for key, value in kwargs.items():
        check_value(value, str(key), task_name, json_only=json_only)


def _signature(func: Callable[..., Any] | None) -> inspect.Signature | None:
    if func is None:
        return None
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):  # pragma: no cover - builtins without signatures
        return None


def canonical_json(value: object) -> str:
    """Stable text for a value: sorted keys, no whitespace, kombu's type tags.

    Used for unique keys, so that ``{"a": 1, "b": 2}`` and ``{"b": 2, "a": 1}`` (or a
    tuple and a list) give the same key and ``1`` and ``"1"`` do not, unlike ``str()``.
    """
    text: str = dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text
