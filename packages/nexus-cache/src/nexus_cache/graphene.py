"""``@cached_resolver`` for graphene(-django) resolvers."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, cast

from django.db.models import QuerySet
from django.utils import translation

from nexus_cache import _core, _functions, _http, _keys
from nexus_cache.conf import get_settings

R = TypeVar("R", bound=Callable[..., Any])

__all__ = ["cached_resolver"]


def cached_resolver(
    resolver: R | int | None = None,
    /,
    *,
    timeout: int | None = None,
    public: bool = False,
    depends_on: Iterable[_functions.Dependency] = (),
) -> Any:
    """Cache a resolver's value per parent object, field arguments and user.

    The key covers the resolver, the parent type and field, the parent object (a model
    instance by its pk; ``None`` for root fields), the field's arguments, the language and
    - unless ``public=True`` - the user of ``info.context``. A returned QuerySet is
    evaluated (inside the computation, so its tables are dependencies) and cached as a list.
    A parent object without a canonical form bypasses the cache, and so does a resolver
    that is not public when ``info.context`` is not a request (``schema.execute(query)``
    without ``context_value``): there is no user to key it on. ``@cached_resolver(60)``
    is ``@cached_resolver(timeout=60)``.
    """
    target, timeout = _functions.split_timeout("cached_resolver", resolver, timeout)

    def decorate(func: R) -> R:
        fn_id = f"{func.__module__}.{func.__qualname__}"
        deps = tuple(depends_on)

        @functools.wraps(func)
        def wrapper(root: Any, info: Any, **kwargs: Any) -> Any:
            if not get_settings().ENABLED:
                return func(root, info, **kwargs)
            try:
                parts = [
                    fn_id,
                    f"{getattr(info.parent_type, 'name', '')}.{getattr(info, 'field_name', '')}",
                    _keys.encode(root),
                    _keys.encode(kwargs),
                    translation.get_language() or "",
                    "public" if public else _http.user_part(info.context),
                ]
            except (TypeError, AttributeError):
                return func(root, info, **kwargs)

            def compute() -> Any:
                value = func(root, info, **kwargs)
                if isinstance(value, QuerySet):
                    value = list(value)
                return value

            static = _functions.dependency_names(deps) if deps else set()
            ekey = _core.entry_key("gql", "\0".join(parts))
            return _core.get_or_compute(
                ekey, compute, static=static, opts=_core.Options(timeout=timeout)
            ).value

        return cast(R, wrapper)

    if target is not None:
        return decorate(target)
    return decorate
