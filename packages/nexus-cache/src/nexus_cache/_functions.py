"""``@cached``: functions (sync and async) cached with discovered dependencies."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Generator, Iterable
from typing import Any, TypeVar, cast, overload

from django.apps import apps
from django.db import models, router

from nexus_cache import _api, _core, _keys, _tokens

F = TypeVar("F", bound=Callable[..., Any])

Dependency = type[models.Model] | str


def dependency_names(depends_on: Iterable[Dependency]) -> set[str]:
    """Table tokens for ``depends_on`` (models or 'app_label.Model'), in the namespace of the
    database the router reads each model from."""
    names: set[str] = set()
    for dep in depends_on:
        model = apps.get_model(dep) if isinstance(dep, str) else dep
        alias = router.db_for_read(model)
        ns = _tokens.namespace(alias)
        for _, table in _api._tables(model):
            names.update((_tokens.table(ns, table), _tokens.bulk(ns, table), _tokens.inserts(ns, table)))
    return names


class _Applied:
    """What ``invalidate()`` of an async cached function returns. The invalidation is done
    (or registered for the commit) by the call itself; awaiting the result is allowed and
    does nothing, so ``f.invalidate(x)`` and ``await f.invalidate(x)`` both work."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # (a generator that finishes at once: `await` returns None)

    def __repr__(self) -> str:
        return "<invalidated>"


_APPLIED = _Applied()


class CachedFunction:
    """The object ``@cached`` returns: call it like the function; ``.invalidate(*args)``."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        timeout: int | None,
        depends_on: Iterable[Dependency],
        key: Callable[..., Any] | None,
        stale: float | None,
        early: float | None,
    ) -> None:
        self.options = _core.options("@cached", timeout, stale, early)
        self.func = func
        self.fn_id = f"{func.__module__}.{func.__qualname__}"
        self.depends_on = tuple(depends_on)
        self.key_func = key
        self.is_async = inspect.iscoroutinefunction(func)
        self._signature = inspect.signature(func)
        functools.update_wrapper(self, func)

    # -- keys ----------------------------------------------------------------------------
    def key(self, *args: Any, **kwargs: Any) -> str:
        """The cache key of one call (for ``manage.py nexus_cache explain``)."""
        if self.key_func is not None:
            material = _keys.encode(self.key_func(*args, **kwargs))
        else:
            bound = self._signature.bind(*args, **kwargs)
            bound.apply_defaults()
            material = _keys.encode(tuple(bound.arguments.items()))
        return _core.entry_key("fn", f"{self.fn_id}\0{material}")

    def _static(self, ekey: str) -> set[str]:
        names = dependency_names(self.depends_on) if self.depends_on else set()
        names.add(_tokens.function(self.fn_id))
        names.add(_tokens.entry(ekey))
        return names

    # -- calling -------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        ekey = self.key(*args, **kwargs)
        if self.is_async:
            return self._acall(ekey, args, kwargs)
        return _core.get_or_compute(
            ekey, lambda: self.func(*args, **kwargs), static=self._static(ekey), opts=self.options
        ).value

    async def _acall(self, ekey: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        result = await _core.aget_or_compute(
            ekey, lambda: self.func(*args, **kwargs), static=self._static(ekey), opts=self.options
        )
        return result.value

    # -- invalidation --------------------------------------------------------------------
    def invalidate(self, *args: Any, **kwargs: Any) -> None:
        """Invalidate the value cached for these arguments (after the current commit)."""
        _api.after_commit(None, {_tokens.entry(self.key(*args, **kwargs))})

    def invalidate_all(self) -> None:
        """Invalidate every value cached for this function."""
        _api.after_commit(None, {_tokens.function(self.fn_id)})

    def __get__(self, instance: Any, owner: Any) -> Any:
        if instance is None:
            return self
        return functools.partial(self, instance)

    def __repr__(self) -> str:
        return f"<cached {self.fn_id}>"


def _positive(where: str, timeout: int | None) -> int | None:
    # Checked when the decorator is applied, not at the first request: 0 or a negative
    # number would otherwise fall back to NEXUS_CACHE["TIMEOUT"] without a word.
    if timeout is not None and (not isinstance(timeout, int) or isinstance(timeout, bool) or timeout <= 0):
        raise ValueError(f"{where}(timeout={timeout!r}): a timeout is a positive number of seconds")
    return timeout


def split_timeout(where: str, target: Any, timeout: int | None) -> tuple[Any, int | None]:
    """``@decorator(60)`` means ``@decorator(timeout=60)`` (as with Django's ``cache_page``):
    (the function or None, the timeout)."""
    if target is None or callable(target):
        return target, _positive(where, timeout)
    if isinstance(target, int) and not isinstance(target, bool):
        if timeout is not None:
            raise TypeError(f"{where}() got the timeout twice: pass it positionally or as timeout=")
        return None, _positive(where, target)
    raise TypeError(
        f"{where}() takes the function to cache, or a timeout in seconds ({where}(60) or "
        f"{where}(timeout=60)), not {type(target).__name__}"
    )


@overload
def cached(func: F, /) -> F: ...


@overload
def cached(
    timeout: int,
    /,
    *,
    depends_on: Iterable[Dependency] = (),
    key: Callable[..., Any] | None = None,
    stale: float | None = None,
    early: float | None = None,
) -> Callable[[F], F]: ...


@overload
def cached(
    *,
    timeout: int | None = None,
    depends_on: Iterable[Dependency] = (),
    key: Callable[..., Any] | None = None,
    stale: float | None = None,
    early: float | None = None,
) -> Callable[[F], F]: ...


def cached(
    func: Callable[..., Any] | int | None = None,
    /,
    *,
    timeout: int | None = None,
    depends_on: Iterable[Dependency] = (),
    key: Callable[..., Any] | None = None,
    stale: float | None = None,
    early: float | None = None,
) -> Any:
    """Cache a function's result; it stays valid until a table it read is written.

    ``timeout`` (default ``NEXUS_CACHE["TIMEOUT"]``) bounds staleness if an invalidation is
    ever lost. ``depends_on`` adds models whose writes invalidate it beyond the ones its
    queries read. ``key`` builds the key from the arguments yourself. ``stale`` serves a
    value up to that many seconds old while another process recomputes it; ``early``
    (XFetch beta, e.g. 1.0) recomputes probabilistically before expiry. ``@cached(600)``
    is ``@cached(timeout=600)``.
    """
    target, timeout = split_timeout("cached", func, timeout)

    def decorate(f: Callable[..., Any]) -> Any:
        obj = CachedFunction(f, timeout=timeout, depends_on=depends_on, key=key, stale=stale, early=early)
        if not obj.is_async:
            return obj

        # A real coroutine function, so that inspect/asgiref recognise it as async.
        @functools.wraps(f)
        async def async_cached(*args: Any, **kwargs: Any) -> Any:
            return await obj._acall(obj.key(*args, **kwargs), args, kwargs)

        def invalidate(*args: Any, **kwargs: Any) -> _Applied:
            obj.invalidate(*args, **kwargs)
            return _APPLIED

        def invalidate_all() -> _Applied:
            obj.invalidate_all()
            return _APPLIED

        invalidate.__doc__ = obj.invalidate.__doc__
        invalidate_all.__doc__ = obj.invalidate_all.__doc__
        wrapper: Any = async_cached
        wrapper.invalidate = invalidate
        wrapper.invalidate_all = invalidate_all
        wrapper.key = obj.key
        wrapper.cached_function = obj
        return wrapper

    if target is not None:
        return cast(Any, decorate(target))
    return decorate


__all__ = ["CachedFunction", "cached", "dependency_names", "split_timeout"]
