"""Listing page by page, and falling back to one full list if a continue token expires.

Mirrors client-go v0.37.2 `tools/pager/pager.go` (unchanged since v0.32) (`ListPager.List`), which the
reflector lists through.

Kept: a `limit` on the first request (500 by default); each next page
carries the previous page's continue token and resource_version "" (the
server refuses an RV together with a token); the pages' items are joined
under the first page's RV; a single page is returned untouched; if a token
expires (410 "Expired" on page 2 or later), one full list without a limit
at the originally requested RV. Also reports whether the result was
paginated, which the reflector remembers.
Left out: contexts, buffered/parallel page fetching, `EachListItem`.
"""

from __future__ import annotations

from typing import Any, Callable

from k8slab import errors

__all__ = ["PAGE_SIZE", "is_resource_expired", "list_pages"]

PAGE_SIZE = 500  # client-go's defaultPageSize


def is_resource_expired(err: BaseException) -> bool:
    """410 Gone / reason "Expired" (apimachinery's IsResourceExpired or IsGone)."""
    if isinstance(err, errors.Gone):
        return True
    return isinstance(err, errors.APIError) and err.reason == "Expired"


def list_pages(
    list_func: Callable[[dict[str, Any]], dict[str, Any]],
    options: dict[str, Any],
    page_size: int = PAGE_SIZE,
) -> tuple[dict[str, Any], bool]:
    """Call `list_func` page by page (no limit if `page_size` is 0); returns (list, paginated)."""
    opts = dict(options)
    if page_size and not opts.get("limit"):
        opts["limit"] = page_size
    items: list[Any] | None = None
    list_rv = ""
    paginated = False
    while True:
        try:
            page = list_func(opts)
        except Exception as err:
            if not (is_resource_expired(err) and opts.get("continue_")):
                raise
            # The snapshot behind the token was compacted away: one full list instead.
            full = {k: v for k, v in options.items() if k not in ("limit", "continue_")}
            return list_func(full), paginated
        metadata = page.get("metadata") or {}
        token = metadata.get("continue") or ""
        if items is None:
            if not token:
                return page, paginated
            items, list_rv = [], metadata.get("resourceVersion", "")
        items.extend(page.get("items") or ())
        if not token:
            return {"metadata": {"resourceVersion": list_rv}, "items": items}, paginated
        opts["continue_"] = token
        opts["resource_version"] = ""
        opts.pop("resource_version_match", None)
        paginated = True
