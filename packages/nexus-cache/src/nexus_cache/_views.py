"""``@cache_view``: the response cache for plain Django views (sync and async)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, cast

from django.http import HttpRequest, HttpResponseBase

from nexus_cache import _functions, _http
from nexus_cache.conf import get_settings

V = TypeVar("V", bound=Callable[..., Any])


def _render(response: Any) -> HttpResponseBase:
    # TemplateResponse renders lazily; render inside the computation so its queries are
    # recorded as dependencies.
    if (
        hasattr(response, "render")
        and callable(response.render)
        and not getattr(response, "is_rendered", True)
    ):
        response.render()
    return cast(HttpResponseBase, response)


def cache_view(
    view: V | int | None = None,
    /,
    *,
    timeout: int | None = None,
    public: bool = False,
    depends_on: Iterable[_functions.Dependency] = (),
    vary_on: Sequence[str] = (),
) -> Any:
    """Cache a view's GET/HEAD 200 responses (rendered bytes + headers) per user.

    Put it closest to the view function, *below* decorators that check permissions, so
    that those run on every request. ``public=True`` shares one entry between all users -
    only for responses that do not depend on who asks. ``vary_on`` names request headers
    that select a different response. The key also covers the path, the canonical query
    string, the ``Accept`` header and the active language. ``@cache_view(60)`` is
    ``@cache_view(timeout=60)``.
    """
    target, timeout = _functions.split_timeout("cache_view", view, timeout)

    def decorate(func: V) -> V:
        view_id = f"{func.__module__}.{func.__qualname__}"
        deps = tuple(depends_on)

        def key(request: HttpRequest) -> str:
            return _http.material(
                request,
                view_id=view_id,
                public=public,
                media_type=request.headers.get("Accept", ""),
                version="",
                vary_on=vary_on,
            )

        def usable(request: HttpRequest) -> bool:
            return request.method in ("GET", "HEAD") and get_settings().ENABLED

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
                if not usable(request):
                    return cast(HttpResponseBase, await func(request, *args, **kwargs))

                async def compute() -> HttpResponseBase:
                    return _render(await func(request, *args, **kwargs))

                static = _functions.dependency_names(deps) if deps else set()
                return await _http.aserve(
                    request, key(request), compute, timeout=timeout, public=public, static=static
                )

            return cast(V, async_wrapper)

        @functools.wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not usable(request):
                return cast(HttpResponseBase, func(request, *args, **kwargs))
            static = _functions.dependency_names(deps) if deps else set()
            return _http.serve(
                request,
                key(request),
                lambda: _render(func(request, *args, **kwargs)),
                timeout=timeout,
                public=public,
                static=static,
            )

        return cast(V, wrapper)

    if target is not None:
        return decorate(target)
    return decorate


__all__ = ["cache_view"]
