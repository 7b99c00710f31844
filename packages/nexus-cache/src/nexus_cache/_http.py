"""Caching rendered responses safely: the rules shared by the DRF mixin and ``cache_view``.

Safety rules (a response cache that leaks is worse than none):

* the key covers method (HEAD shares GET's), scheme, host, path, the query string in
  canonical order, the negotiated media type (or the raw ``Accept``), the API version, the
  active language, headers the view declares, and - unless the view is public - the user
  (authenticated: user pk; otherwise a hash of ``Authorization``, else the session key);
* only 200 responses are stored, never streaming ones, never ones that set cookies, are
  ``private``/``no-store``, ``Vary: *``, used the CSRF token or modified the session;
* a stored ``Vary`` is honoured: a request whose varied headers differ is computed afresh;
* the ``ETag`` is a hash of the key and the entry's token snapshot, so ``If-None-Match``
  answers 304 from the tokens alone while the data is unchanged; ``Last-Modified`` is the
  newest token's time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotModified
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.http import http_date, parse_http_date_safe, quote_etag

from nexus_cache import _core, _tokens

CACHE_HEADER = "X-Nexus-Cache"
_DELIM = re.compile(r"\s*,\s*")


class Uncacheable(Exception):
    """Raised inside a computation to hand back a response that must not be stored."""

    def __init__(self, response: HttpResponseBase) -> None:
        super().__init__("response is not cacheable")
        self.response = response


def user_part(request: Any) -> str:
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        return f"u:{user._meta.label_lower}:{user.pk}"
    auth = request.META.get("HTTP_AUTHORIZATION")
    if auth:
        return "h:" + hashlib.sha256(auth.encode()).hexdigest()
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None) if session is not None else None
    return f"a:{key or ''}"


def canonical_query(request: Any) -> str:
    # Keys sorted; the order of repeated values kept (``?id=2&id=1`` may mean something).
    items = sorted(request.GET.lists())
    return "&".join(f"{k}={v}" for k, values in items for v in values)


def material(
    request: Any,
    *,
    view_id: str,
    public: bool,
    media_type: str,
    version: str,
    vary_on: Sequence[str] = (),
) -> str:
    parts = [
        view_id,
        "https" if request.is_secure() else "http",
        request.get_host(),
        request.path,
        canonical_query(request),
        media_type,
        version,
        translation.get_language() or "",
        ";".join(f"{h.lower()}={request.headers.get(h, '')}" for h in vary_on),
        "public" if public else user_part(request),
    ]
    return "\0".join(parts)


def _cache_control(response: HttpResponseBase) -> set[str]:
    value = response.get("Cache-Control", "")
    return {part.split("=", 1)[0].strip().lower() for part in _DELIM.split(value) if part}


def _vary(response: HttpResponseBase) -> list[str]:
    value = response.get("Vary", "")
    return [h.strip() for h in _DELIM.split(value) if h.strip()]


def freeze(request: Any, response: HttpResponseBase) -> tuple[bytes, list[tuple[str, str]], dict[str, str]]:
    """The storable form of a rendered response, or Uncacheable."""
    if (
        response.status_code != 200
        or response.streaming
        or response.cookies
        or _cache_control(response) & {"private", "no-store"}
        or "*" in _vary(response)
        or request.META.get("CSRF_COOKIE_NEEDS_UPDATE")
        or request.META.get("CSRF_COOKIE_USED")
        or getattr(getattr(request, "session", None), "modified", False)
    ):
        raise Uncacheable(response)
    assert isinstance(response, HttpResponse)
    vary = {h.lower(): request.headers.get(h, "") for h in _vary(response)}
    return bytes(response.content), list(response.items()), vary


def _etag(ekey: str, snapshot: tuple[int, ...]) -> str:
    digest = hashlib.blake2b(f"{ekey}|{snapshot}".encode(), digest_size=12).hexdigest()
    return quote_etag(f"nx-{digest}")


def _not_modified(request: Any, etag: str, last_modified: int) -> bool:
    inm = request.META.get("HTTP_IF_NONE_MATCH")
    if inm:
        tags = {t.strip() for t in inm.split(",")}
        return etag in tags or f"W/{etag}" in tags or "*" in tags
    ims = request.META.get("HTTP_IF_MODIFIED_SINCE")
    if ims:
        since = parse_http_date_safe(ims)
        return since is not None and last_modified <= since
    return False


def _respond(request: Any, ekey: str, result: _core.Result, public: bool) -> HttpResponseBase:
    content, headers, _vary_values = result.value
    etag = last_modified = None
    if result.snapshot is not None:
        etag = _etag(ekey, result.snapshot)
        last_modified = int(max((_tokens.value_time(v) for v in result.snapshot), default=0))
        if _not_modified(request, etag, last_modified):
            nm = HttpResponseNotModified()
            nm["ETag"] = etag
            nm["Last-Modified"] = http_date(last_modified)
            nm[CACHE_HEADER] = "hit" if result.hit else "miss"
            return nm
    response = HttpResponse(content, status=200)
    for name, value in headers:
        response[name] = value
    if etag is not None and last_modified is not None:
        response["ETag"] = etag
        response["Last-Modified"] = http_date(last_modified)
        if "Cache-Control" not in response:
            # Let browsers and proxies revalidate (cheaply, 304) instead of guessing freshness
            # - and keep per-user responses out of shared caches.
            patch_cache_control(
                response, no_cache=True, **({"public": True} if public else {"private": True})
            )
    response[CACHE_HEADER] = "hit" if result.hit else "miss"
    return response


def _vary_mismatch(request: Any, result: _core.Result, public: bool) -> bool:
    vary: dict[str, str] = result.value[2]
    # Headers the key already covers: Accept (negotiated media type, or the raw header for
    # plain views) and, for per-user entries, Authorization.
    covered = {"accept"} if public else {"accept", "authorization"}
    return any(request.headers.get(h, "") != v for h, v in vary.items() if h not in covered)


def serve(
    request: Any,
    key_material: str,
    compute: Callable[[], HttpResponseBase],
    *,
    timeout: int | None,
    public: bool,
    static: Iterable[str] = (),
) -> HttpResponseBase:
    ekey = _core.entry_key("http", key_material)
    try:
        result = _core.get_or_compute(
            ekey, lambda: freeze(request, compute()), static=static, opts=_core.Options(timeout=timeout)
        )
    except Uncacheable as exc:
        return exc.response
    if result.hit and _vary_mismatch(request, result, public):
        return compute()
    return _respond(request, ekey, result, public)


async def aserve(
    request: HttpRequest,
    key_material: str,
    compute: Callable[[], Awaitable[HttpResponseBase]],
    *,
    timeout: int | None,
    public: bool,
    static: Iterable[str] = (),
) -> HttpResponseBase:
    ekey = _core.entry_key("http", key_material)

    async def frozen() -> Any:
        return freeze(request, await compute())

    try:
        result = await _core.aget_or_compute(ekey, frozen, static=static, opts=_core.Options(timeout=timeout))
    except Uncacheable as exc:
        return exc.response
    if result.hit and _vary_mismatch(request, result, public):
        return await compute()
    return _respond(request, ekey, result, public)


__all__ = [
    "CACHE_HEADER",
    "Uncacheable",
    "aserve",
    "canonical_query",
    "freeze",
    "material",
    "serve",
    "user_part",
]
