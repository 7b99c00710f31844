"""``CacheResponseMixin`` for Django REST framework views and viewsets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponseBase
from rest_framework.request import Request
from rest_framework.response import Response

from nexus_cache import _functions, _http
from nexus_cache.conf import get_settings

__all__ = ["CacheResponseMixin"]


class CacheResponseMixin:
    """Cache GET/HEAD 200 responses as rendered bytes + headers.

    The cache is consulted *after* authentication, permissions, throttling, content
    negotiation and versioning have run (in ``initial()``), so every request is still
    checked. The key covers path, canonical query string, negotiated media type, version,
    language and - unless ``cache_public = True`` - the user. Responses carry an ``ETag``
    (``If-None-Match`` gets a 304 without running the view) and a ``Last-Modified``.
    """

    #: Seconds an entry lives at most (None: ``NEXUS_CACHE["TIMEOUT"]``).
    cache_timeout: int | None = None
    #: Models whose writes invalidate the responses beyond the tables the view reads.
    cache_depends_on: Sequence[_functions.Dependency] = ()
    #: True only when the response is the same for every user.
    cache_public: bool = False
    #: Request headers that select a different response (part of the key).
    cache_vary_on: Sequence[str] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Listed after a DRF view in the bases, the mixin's initial() is never reached and the
        # view silently caches nothing: say so where the class is defined.
        super().__init_subclass__(**kwargs)
        from rest_framework.views import APIView

        mro = cls.__mro__
        if APIView in mro and mro.index(APIView) < mro.index(CacheResponseMixin):
            raise ImproperlyConfigured(
                f"{cls.__module__}.{cls.__qualname__}: list CacheResponseMixin before the DRF view "
                "class in its bases (class MyView(CacheResponseMixin, ModelViewSet)); after it, "
                "the mixin never runs and nothing is cached"
            )

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        if request.method not in ("GET", "HEAD") or not get_settings().ENABLED:
            return
        method = request.method.lower()
        handler = getattr(self, method, None)
        if handler is not None:
            setattr(self, method, self._nx_wrap(handler))

    def _nx_key(self, request: Request) -> str:
        view_id = f"{type(self).__module__}.{type(self).__qualname__}:{getattr(self, 'action', None) or ''}"
        return _http.material(
            request,
            view_id=view_id,
            public=self.cache_public,
            media_type=str(request.accepted_media_type or ""),
            version=str(request.version or ""),
            vary_on=self.cache_vary_on,
        )

    def _nx_wrap(self, handler: Callable[..., Any]) -> Callable[..., HttpResponseBase]:
        def cached_handler(request: Request, *args: Any, **kwargs: Any) -> HttpResponseBase:
            def compute() -> HttpResponseBase:
                response = handler(request, *args, **kwargs)
                if isinstance(response, Response):
                    response = self.finalize_response(request, response, *args, **kwargs)  # type: ignore[attr-defined]
                    response.render()
                return response  # type: ignore[no-any-return]

            static = _functions.dependency_names(self.cache_depends_on) if self.cache_depends_on else set()
            return _http.serve(
                request,
                self._nx_key(request),
                compute,
                timeout=self.cache_timeout,
                public=self.cache_public,
                static=static,
            )

        return cached_handler
