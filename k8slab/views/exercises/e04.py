"""Notebook 04's checked exercises: retrying on conflict, and listing page by page.

    04.1  write retry_on_conflict(fn): client-go's `retry.RetryOnConflict(retry.DefaultRetry, fn)`
          (`util/retry/util.go`): call fn again while it raises Conflict, five calls at most,
          and let the last Conflict (or any other error, at once) through
    04.2  write list_all(list_page, limit): every item of a list, page by page, as client-go's
          `tools/pager/pager.go` (`ListPager.List`) fetches it: `limit` on every request, the
          previous page's continue token on the next, and one full list without a limit when a
          continue token has expired (410 Expired)

The scenarios drive the answer with functions that raise the k8slab errors the
typed client raises (`Conflict`, `NotFound`, `Gone`), and with an in-memory list
that pages as kube-apiserver does. The expected outcomes come from k8slab's
`retry_on_conflict` and `cache.pager.list_pages`, which mirror client-go's.
"""

from __future__ import annotations

from typing import Any, Callable

from k8slab import errors
from k8slab.cache.pager import list_pages
from k8slab.chain.clientset import retry_on_conflict
from k8slab.views.exercises.framework import Mismatch, Run, define, expect

__all__: list[str] = []


class _Writer:
    """An fn for retry_on_conflict: raises `failures[i]` on call i (None: succeeds)."""

    def __init__(self, failures: list[Callable[[int], BaseException] | None]) -> None:
        self.failures, self.calls = failures, 0

    def __call__(self) -> str:
        self.calls += 1
        make = self.failures[min(self.calls, len(self.failures)) - 1]
        if make is not None:
            raise make(self.calls)
        return f"updated on call {self.calls}"


def _conflict(n: int) -> errors.Conflict:
    return errors.new_conflict("configmaps", "settings", f"the object has been modified (call {n})")


def _not_found(n: int) -> errors.NotFound:
    return errors.new_not_found("configmaps", "settings")


def _outcome(call: Callable[[], Any]) -> str:
    """"returned 'updated on call 3'" or "raised Conflict: ...", for comparing an answer with the reference."""
    try:
        return f"returned {call()!r}"
    except errors.APIError as exc:
        return f"raised {type(exc).__name__}: {str(exc).split(' (the object changed')[0]}"


retry = define("04.1", "retry on Conflict: five calls at most, the last Conflict (or any other error) goes through",
               answer="a function retry_on_conflict(fn) -> what fn returned")


def _retried(answer: Any, failures: list[Any], hint: str) -> None:
    theirs, ours = _Writer(failures), _Writer(failures)
    got = _outcome(lambda: answer(theirs))
    want = _outcome(lambda: retry_on_conflict(ours, sleep=lambda s: None))
    expect("calls of fn", theirs.calls, ours.calls, hint=hint)
    expect("the outcome", got, want, hint=hint)


@retry.scenario("fn that succeeds is called once, and what it returns comes back")
def _succeeds(answer: Any, run: Run) -> None:
    _retried(answer, [None], "return fn()'s value")


@retry.scenario("two Conflicts, then success: three calls, and the third call's result comes back")
def _recovers(answer: Any, run: Run) -> None:
    _retried(answer, [_conflict, _conflict, None], "call fn again after each Conflict")


@retry.scenario("Conflict every time: five calls, then the fifth Conflict is raised")
def _gives_up(answer: Any, run: Run) -> None:
    _retried(answer, [_conflict], "DefaultRetry has Steps: 5, five calls in all; after the last one the "
                                  "Conflict goes to the caller (it is not swallowed, and not replaced)")


@retry.scenario("another error (NotFound) is not retried: one call, and it goes through")
def _other_error(answer: Any, run: Run) -> None:
    _retried(answer, [_not_found, None], "retry only Conflict (errors.IsConflict in Go): a NotFound will "
                                         "not go away by trying again")


# -- 04.2 ------------------------------------------------------------------------------


class _Server:
    """An in-memory list that pages as kube-apiserver does, and records each request."""

    def __init__(self, names: list[str], expire_tokens: bool = False, fail_first: BaseException | None = None):
        self.items = [{"metadata": {"name": n}} for n in names]
        self.expire_tokens, self.fail_first = expire_tokens, fail_first
        self.requests: list[tuple[Any, Any]] = []

    def __call__(self, limit: int | None = None, continue_: str | None = None) -> dict[str, Any]:
        self.requests.append((limit or None, continue_ or None))
        if self.fail_first is not None and len(self.requests) == 1:
            raise self.fail_first
        if continue_ and self.expire_tokens:
            raise errors.new_resource_expired("The provided continue parameter is too old to display a consistent "
                                              "list result. You can start a new list without the continue parameter.")
        start = int(continue_.removeprefix("page-after-")) if continue_ else 0
        end = len(self.items) if not limit else min(start + limit, len(self.items))
        metadata: dict[str, Any] = {"resourceVersion": "42"}
        if end < len(self.items):
            metadata.update({"continue": f"page-after-{end}", "remainingItemCount": len(self.items) - end})
        return {"metadata": metadata, "items": self.items[start:end]}


def _names(items: Any) -> Any:
    try:
        return [item["metadata"]["name"] for item in items]
    except (TypeError, KeyError):
        return items


def _reference(server: _Server, limit: int) -> list[Any]:
    result, _ = list_pages(lambda opts: server(opts.get("limit"), opts.get("continue_")), {}, page_size=limit)
    return result["items"]


def _paged(answer: Any, make: Callable[[], _Server], limit: int, hint: str) -> None:
    theirs, ours = make(), make()
    want = _names(_reference(ours, limit))
    try:
        got = _names(answer(theirs, limit))
    except errors.APIError as exc:
        raise Mismatch(f"the items {want}", f"{type(exc).__name__}: {exc}", hint) from None
    expect("the requests (limit, continue)", theirs.requests, ours.requests, hint=hint)
    expect("the items' names", got, want, hint=hint)


pager = define("04.2", "list every item page by page, and fall back to one full list when a token expires",
               answer="a function list_all(list_page, limit) -> the items; list_page(limit=..., continue_=...) "
                      "returns a page")


@pager.scenario("7 items, limit 3: three requests, each after the first with the previous page's token")
def _seven(answer: Any, run: Run) -> None:
    _paged(answer, lambda: _Server([f"pod-{i}" for i in range(7)]), 3,
           "pass limit on every request and the last page's metadata['continue'] on the next; "
           "stop at a page without a continue token")


@pager.scenario("4 items, limit 5: one request, the whole list")
def _one_page(answer: Any, run: Run) -> None:
    _paged(answer, lambda: _Server([f"pod-{i}" for i in range(4)]), 5, "the first page has no continue token: done")


@pager.scenario("an expired continue token (410 Expired) falls back to one full list without a limit")
def _expired(answer: Any, run: Run) -> None:
    _paged(answer, lambda: _Server([f"pod-{i}" for i in range(5)], expire_tokens=True), 2,
           "the snapshot behind the token was compacted away: pager.go lists once more, without limit and "
           "continue (FullListIfExpired), and returns that list")


@pager.scenario("a 410 on the first request is no token's fault: it goes to the caller")
def _first_fails(answer: Any, run: Run) -> None:
    gone = errors.new_resource_expired("too old resource version: 1 (42)")
    server = _Server(["pod-0"], fail_first=gone)
    try:
        got = answer(server, 3)
    except errors.Gone:
        expect("the requests (limit, continue)", server.requests, [(3, None)],
               hint="no second request: only an expired continue token calls for the full list")
        return
    except errors.APIError as exc:
        raise Mismatch("the Gone error raised", f"{type(exc).__name__}: {exc}") from None
    raise Mismatch("the Gone error raised (a 410 without a continue token is the caller's business)",
                   f"it returned {_names(got)!r} after requests {server.requests}",
                   "fall back to the full list only when the failed request carried a continue token")
