"""Stripe-style version changes: code is written for the newest version only, and each
backwards-incompatible change declares how to translate between it and the version before.

A request in version N is upgraded through every change introduced after N (oldest first)
before validation; a response is downgraded through the same changes newest first. The
translation runs inside the serializer (``VersionChangesMixin``), so it reaches every
object the serializer renders: list items, objects inside a pagination envelope, nested
serializers.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers
from rest_framework.fields import empty

from nexus_api.conf import SETTING_NAME
from nexus_api.versioning._versions import ApiVersion, get_versions

__all__ = [
    "AddEndpoint",
    "AddField",
    "ChangeContext",
    "ChangeField",
    "Operation",
    "RemoveEndpoint",
    "RemoveField",
    "RenameField",
    "VersionChange",
    "VersionChangesMixin",
    "all_changes",
]

_MISSING: Any = object()


@dataclasses.dataclass(frozen=True)
class ChangeContext:
    """What a change may look at while translating: the requested version, the request,
    and (for responses) the object being rendered."""

    version: str
    request: Any = None
    instance: Any = None
    serializer: Any = None
    view: Any = None


def _copy(data: Any) -> Any:
    """A mutable copy: request data may be an immutable ``QueryDict``."""
    if hasattr(data, "getlist") and hasattr(data, "copy"):
        return data.copy()
    return dict(data)


def _is_querydict(data: Any) -> bool:
    return hasattr(data, "getlist") and hasattr(data, "setlist")


def _plain(data: Any) -> Any:
    """Form data (a ``QueryDict``) as a plain dict, so that change code sees one shape.

    A key sent once maps to its value, a repeated key to the list of its values.
    """
    if not _is_querydict(data):
        return data
    return {key: values[0] if len(values) == 1 else values for key, values in data.lists()}


def _rename_key(data: Any, old: str, new: str) -> Any:
    """Rename ``old`` to ``new`` keeping the key's position (clients diff JSON by eye)."""
    if old not in data:
        return data
    if _is_querydict(data):
        data = _copy(data)
        data.setlist(new, data.getlist(old))
        del data[old]
        return data
    return {(new if key == old else key): value for key, value in data.items()}


class Operation:
    """One declarative step of a ``VersionChange``; the describe() text feeds the changelog."""

    def upgrade(self, data: Any, context: ChangeContext) -> Any:
        """Request data from the older version -> the newer version's shape."""
        return data

    def downgrade(self, data: Any, context: ChangeContext) -> Any:
        """Response data in the newer version's shape -> the older version's."""
        return data

    def downgrade_errors(self, errors: Any, context: ChangeContext) -> Any:
        """Validation errors keyed by newer field names -> the names the client sent."""
        return errors

    def describe(self) -> str:  # pragma: no cover - every operation overrides it
        return type(self).__name__


@dataclasses.dataclass(frozen=True)
class RenameField(Operation):
    """Field ``old`` is called ``new`` from this version on."""

    old: str
    new: str

    def upgrade(self, data: Any, context: ChangeContext) -> Any:
        return _rename_key(data, self.old, self.new)

    def downgrade(self, data: Any, context: ChangeContext) -> Any:
        return _rename_key(data, self.new, self.old)

    def downgrade_errors(self, errors: Any, context: ChangeContext) -> Any:
        return _rename_key(errors, self.new, self.old) if isinstance(errors, Mapping) else errors

    def describe(self) -> str:
        return f"field `{self.old}` renamed to `{self.new}`"


@dataclasses.dataclass(frozen=True)
class AddField(Operation):
    """Field ``name`` is new in this version: older responses do not show it; older
    requests, which cannot send it, get ``default`` when one is given."""

    name: str
    default: Any = _MISSING

    def upgrade(self, data: Any, context: ChangeContext) -> Any:
        if self.default is _MISSING or self.name in data:
            return data
        data = _copy(data)
        data[self.name] = self.default() if callable(self.default) else self.default
        return data

    def downgrade(self, data: Any, context: ChangeContext) -> Any:
        if self.name not in data:
            return data
        return {key: value for key, value in data.items() if key != self.name}

    def describe(self) -> str:
        return f"field `{self.name}` added"


@dataclasses.dataclass(frozen=True)
class RemoveField(Operation):
    """Field ``name`` is gone from this version on. Older responses still get it:
    ``compute(instance)`` rebuilds it from the object being rendered (or ``default``).
    Older requests may still send it; it is dropped unless ``upgrade`` maps it
    (``upgrade(value, data) -> data``) onto the new fields."""

    name: str
    compute: Callable[[Any], Any] | None = None
    default: Any = None
    upgrade_value: Callable[[Any, dict[str, Any]], dict[str, Any]] | None = None

    def upgrade(self, data: Any, context: ChangeContext) -> Any:
        if self.name not in data:
            return data
        data = _copy(data)
        value = data.pop(self.name)
        if self.upgrade_value is not None:
            data = self.upgrade_value(value, data)
        return data

    def downgrade(self, data: Any, context: ChangeContext) -> Any:
        data = dict(data)
        if self.compute is not None and context.instance is not None:
            data[self.name] = self.compute(context.instance)
        else:
            data[self.name] = self.default
        return data

    def describe(self) -> str:
        return f"field `{self.name}` removed"


@dataclasses.dataclass(frozen=True)
class ChangeField(Operation):
    """The type or format of field ``name`` changed: ``upgrade`` maps an old value to the
    new one, ``downgrade`` the reverse. Either may be omitted when only one direction
    exists (a read-only field needs no upgrade)."""

    name: str
    upgrade_value: Callable[[Any], Any] | None = None
    downgrade_value: Callable[[Any], Any] | None = None
    description: str = ""

    def upgrade(self, data: Any, context: ChangeContext) -> Any:
        if self.upgrade_value is None or self.name not in data:
            return data
        data = _copy(data)
        data[self.name] = self.upgrade_value(data[self.name])
        return data

    def downgrade(self, data: Any, context: ChangeContext) -> Any:
        if self.downgrade_value is None or self.name not in data:
            return data
        data = dict(data)
        data[self.name] = self.downgrade_value(data[self.name])
        return data

    def describe(self) -> str:
        return self.description or f"field `{self.name}` changed type"


@dataclasses.dataclass(frozen=True)
class AddEndpoint(Operation):
    """The endpoint (the view listing this change) exists from this version on; older
    versions get 404. With ``RemoveField(compute=...)`` on the resource it expresses a
    split: data moved out of an object into its own endpoint."""

    path: str = ""

    def describe(self) -> str:
        return f"endpoint {self.path} added" if self.path else "endpoint added"


@dataclasses.dataclass(frozen=True)
class RemoveEndpoint(Operation):
    """The endpoint (the view listing this change) exists only in older versions."""

    path: str = ""

    def describe(self) -> str:
        return f"endpoint {self.path} removed" if self.path else "endpoint removed"


_REGISTRY: list[type[VersionChange]] = []
#: Other names a ``VersionChange`` may give its hooks.
_HOOK_ALIASES = {
    "request": "upgrade_request",
    "upgrade": "upgrade_request",
    "response": "downgrade_response",
    "downgrade": "downgrade_response",
}


class VersionChange:
    """One backwards-incompatible change, introduced in ``version``.

    Declare it once, list it on the serializers (``version_changes``) and views it
    affects, and keep writing code for the newest version only::

        class RenameTitle(VersionChange):
            version = "2"
            description = "Listing `title` is now `name`."
            operations = [RenameField("title", "name")]

    For translations the operations cannot express, override ``upgrade_request`` /
    ``downgrade_response`` (call ``super()`` to keep the operations); ``request`` /
    ``response`` (or ``upgrade`` / ``downgrade``) are accepted as their names. A hook
    takes ``(self, data)`` or ``(self, data, context)`` and returns the translated data,
    or ``None`` after changing ``data`` in place.
    """

    #: The version that introduced the change; requests in older versions are translated.
    version: ClassVar[str]
    #: One line for the changelog (defaults to the first line of the docstring).
    description: ClassVar[str] = ""
    #: The declarative steps, applied in order on upgrade and in reverse on downgrade.
    operations: ClassVar[Sequence[Operation]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "version" in cls.__dict__:
            if not isinstance(cls.version, str):
                raise ImproperlyConfigured(
                    f"{cls.__qualname__}.version must be a version name (str) from "
                    f"{SETTING_NAME}['VERSIONS'], not {cls.version!r}."
                )
            _REGISTRY.append(cls)
        for alias, hook in _HOOK_ALIASES.items():
            # ``def request(self, data)`` / ``def response(self, data)`` (or ``upgrade`` /
            # ``downgrade``) read as the hooks they name.
            if alias in cls.__dict__ and hook not in cls.__dict__ and callable(cls.__dict__[alias]):
                setattr(cls, hook, cls.__dict__[alias])

    @classmethod
    def get_description(cls) -> str:
        if cls.description:
            return cls.description
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else cls.__name__

    @classmethod
    def api_version(cls) -> ApiVersion:
        return get_versions()[cls.version]

    def upgrade_request(self, data: Any, context: ChangeContext) -> Any:
        for operation in self.operations:
            data = operation.upgrade(data, context)
        return data

    def downgrade_response(self, data: Any, context: ChangeContext) -> Any:
        for operation in reversed(self.operations):
            data = operation.downgrade(data, context)
        return data

    def downgrade_errors(self, errors: Any, context: ChangeContext) -> Any:
        for operation in reversed(self.operations):
            errors = operation.downgrade_errors(errors, context)
        return errors


def all_changes() -> list[type[VersionChange]]:
    """Every ``VersionChange`` subclass defined so far, in definition order."""
    return list(_REGISTRY)


def pending_changes(
    changes: Iterable[type[VersionChange]], version: ApiVersion | None
) -> list[VersionChange]:
    """The changes a request in ``version`` must be translated through, oldest first
    (declaration order within one version)."""
    if version is None:
        return []
    versions = get_versions()
    indexed = [(versions[change.version].index, position, change) for position, change in enumerate(changes)]
    return [change() for index, _, change in sorted(indexed, key=lambda t: t[:2]) if index > version.index]


def endpoint_unavailable(changes: Iterable[type[VersionChange]], version: ApiVersion) -> str | None:
    """Why a view listing ``changes`` does not exist in ``version`` (``None`` if it does)."""
    versions = get_versions()
    for change in changes:
        introduced = versions[change.version]
        for operation in change.operations:
            if isinstance(operation, AddEndpoint) and version.index < introduced.index:
                return f"This endpoint was added in API version {introduced.name}; it does not exist in {version.name}."
            if isinstance(operation, RemoveEndpoint) and version.index >= introduced.index:
                return f"This endpoint was removed in API version {introduced.name}."
    return None


@functools.cache
def _takes_context(function: Callable[..., Any]) -> bool:
    """Whether an overridden hook accepts ``context`` (``def downgrade_response(self, data)``
    is accepted too: most custom translations only need the data)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - builtins and C callables
        return True
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 3 or any(p.kind is p.VAR_POSITIONAL for p in parameters)


def _hook(change: VersionChange, name: str, data: Any, context: ChangeContext) -> Any:
    function = getattr(type(change), name)
    result = function(change, data, context) if _takes_context(function) else function(change, data)
    # A hook that changed ``data`` in place and returned nothing keeps the changed data.
    return data if result is None else result


def _translates_data(change: type[VersionChange]) -> bool:
    """False for changes that only add or remove endpoints."""
    if any(getattr(change, hook) is not getattr(VersionChange, hook) for hook in _HOOKS):
        return True
    return any(not isinstance(op, AddEndpoint | RemoveEndpoint) for op in change.operations)


_HOOKS = ("upgrade_request", "downgrade_response", "downgrade_errors")


def view_data_changes(view: Any, version: ApiVersion) -> list[VersionChange]:
    """Changes a view lists that translate bodies and that its serializer does not
    already apply (a change is never applied twice)."""
    listed = [change for change in getattr(view, "version_changes", None) or () if _translates_data(change)]
    if not listed:
        return []
    try:
        serializer_class = view.get_serializer_class()
    except Exception:
        serializer_class = None
    handled = set(getattr(serializer_class, "version_changes", None) or ())
    return pending_changes([change for change in listed if change not in handled], version)


def upgrade_body(data: Any, changes: Sequence[VersionChange], context: ChangeContext) -> Any:
    """Request body from an older version -> the newest shape (a list: each item)."""
    if isinstance(data, list):
        return [upgrade_body(item, changes, context) for item in data]
    if not isinstance(data, Mapping):
        return data
    data = _plain(data)
    for change in changes:
        data = _hook(change, "upgrade_request", data, context)
    return data


def downgrade_body(
    data: Any, changes: Sequence[VersionChange], context: ChangeContext, *, paginated: bool
) -> Any:
    """Response body in the newest shape -> the older version's: the object, each item of
    a list, or each item of a pagination envelope's ``results``."""
    if isinstance(data, list):
        return [downgrade_body(item, changes, context, paginated=False) for item in data]
    if not isinstance(data, Mapping):
        return data
    if paginated and isinstance(data.get("results"), list):
        return {**data, "results": downgrade_body(data["results"], changes, context, paginated=False)}
    for change in reversed(changes):
        data = _hook(change, "downgrade_response", data, context)
    return data


def downgrade_error_body(body: Any, changes: Sequence[VersionChange], context: ChangeContext) -> Any:
    """A validation problem's ``errors`` keyed by the names the older client sent."""
    if not isinstance(body, Mapping) or not isinstance(body.get("errors"), Mapping):
        return body
    errors = body["errors"]
    for change in reversed(changes):
        errors = _hook(change, "downgrade_errors", errors, context)
    return {**body, "errors": errors}


def _request_version(serializer: serializers.BaseSerializer[Any]) -> tuple[Any, ApiVersion | None]:
    request = serializer.context.get("request")
    name = getattr(request, "version", None)
    if not isinstance(name, str):
        return request, None
    return request, get_versions().get(name)


class VersionChangesMixin:
    """Serializer mixin applying ``version_changes`` for the request's version.

    ``class ListingSerializer(VersionChangesMixin, serializers.ModelSerializer)`` with
    ``version_changes = [RenameTitle, ...]``: the serializer is written for the newest
    version; older requests are upgraded before validation (their validation errors
    use the names they sent) and responses are downgraded after rendering. Nested
    serializers with the mixin translate their own part of the tree.
    """

    version_changes: ClassVar[Sequence[type[VersionChange]]] = ()

    def _nexus_changes(self) -> tuple[Any, str, list[VersionChange]]:
        request, version = _request_version(self)  # type: ignore[arg-type]
        changes = pending_changes(self.version_changes, version) if self.version_changes else []
        return request, version.name if version else "", changes

    def to_representation(self, instance: Any) -> Any:
        data = super().to_representation(instance)  # type: ignore[misc]
        request, name, changes = self._nexus_changes()
        if not changes:
            return data
        context = ChangeContext(version=name, request=request, instance=instance, serializer=self)
        for change in reversed(changes):
            data = _hook(change, "downgrade_response", data, context)
        return data

    def run_validation(self, data: Any = empty) -> Any:
        request, name, changes = self._nexus_changes()
        if not changes:
            return super().run_validation(data)  # type: ignore[misc]
        context = ChangeContext(version=name, request=request, serializer=self)
        if isinstance(data, Mapping | MutableMapping):
            data = _plain(data)
            for change in changes:
                data = _hook(change, "upgrade_request", data, context)
        try:
            return super().run_validation(data)  # type: ignore[misc]
        except serializers.ValidationError as exc:
            detail: Any = exc.detail
            if isinstance(detail, Mapping):
                for change in reversed(changes):
                    detail = _hook(change, "downgrade_errors", detail, context)
                raise serializers.ValidationError(detail) from exc
            raise
