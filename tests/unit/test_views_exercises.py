"""Checkable exercises: every check passes its reference answer and rejects plausible wrong ones.

The reference answers are the code cells of notebooks/solutions/*.ipynb,
executed here as they are (one source of truth, also run under nbval). The
wrong answers are the mistakes a learner makes; each must fail the scenario
that catches it, with a message that says what was expected and what happened.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import io
import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from k8slab import errors, exercises
from k8slab.cache import (
    DeletedFinalStateUnknown,
    deep_copy,
    deletion_handling_meta_namespace_key_func,
    meta_namespace_key_func,
)
from k8slab.errors import UsageError
from k8slab.leaderelection import LeaderElectionRecord
from k8slab.meta import add_finalizer, contains_finalizer, get_controller_of, remove_finalizer
from k8slab.samplecontroller.controller import Controller
from k8slab.samplecontroller.operator import FINALIZER
from k8slab.views.exercises.framework import Exercise, Mismatch, expect, register, run_exercise

SOLUTIONS = Path(__file__).resolve().parents[2] / "notebooks" / "solutions"


def solution_outputs() -> str:
    """Run every solutions notebook's code cells in-process; what they print."""
    out = io.StringIO()
    for path in sorted(SOLUTIONS.glob("*-solutions.ipynb")):
        namespace: dict[str, Any] = {"__name__": "__solutions__"}
        with contextlib.redirect_stdout(out):
            for cell in json.loads(path.read_text())["cells"]:
                if cell["cell_type"] == "code":
                    exec(compile("".join(cell["source"]), f"{path.name} cell", "exec"), namespace)
    return out.getvalue()


def test_every_check_passes_its_reference_answer_from_the_solutions_notebooks():
    printed = solution_outputs()
    for exercise_id in exercises.exercise_ids():
        n = len(exercises.exercise(exercise_id).scenarios)
        assert re.search(rf"^✔ {re.escape(exercise_id)} passed \({n} scenarios?\): ", printed, re.M), (
            f"{exercise_id}: no pass line in notebooks/solutions; printed:\n{printed}"
        )
    assert "✘" not in printed and "not answered" not in printed


# -- wrong answers -------------------------------------------------------------


def step_without_done(queue, reconcile):
    key, shutdown = queue.get()
    if shutdown:
        return False
    try:
        reconcile(key)
        queue.forget(key)
    except Exception:
        queue.add_rate_limited(key)
    return True


def step(on_failure: str = "add_rate_limited", catch: type = Exception, forget_always: bool = False,
         forget_on_success: bool = True, checks_shutdown: bool = True):
    def process_next_work_item(queue, reconcile):
        key, shutdown = queue.get()
        if shutdown and checks_shutdown:
            return False
        try:
            reconcile(key)
            if forget_on_success:
                queue.forget(key)
        except catch:
            getattr(queue, on_failure)(key)
        finally:
            if forget_always:
                queue.forget(key)
            queue.done(key)
        return True

    return process_next_work_item


class Limiter:
    def __init__(self, base_delay, max_delay, shift=0, shared=False, cap=True, safe=True):
        self.base, self.max, self.shift = base_delay, max_delay, shift
        self.shared, self.cap, self.safe = shared, cap, safe
        self.failures: dict[Any, int] = {}

    def when(self, item):
        item = "all" if self.shared else item
        exp = self.failures.get(item, 0) + self.shift
        self.failures[item] = self.failures.get(item, 0) + 1
        try:
            delay = self.base * 2.0**exp
        except OverflowError:
            if self.safe:
                return self.max
            raise
        return min(delay, self.max) if self.cap else delay

    def forget(self, item):
        self.failures.pop(item, None)

    def num_requeues(self, item):
        return self.failures.get("all" if self.shared else item, 0)


def limiter(**kwargs):
    return lambda base, cap: Limiter(base, cap, **kwargs)


FIRST_EVENTS = {"0": [("ADDED", "a"), ("ADDED", "c")], "2": [("MODIFIED", "a"), ("DELETED", "b"), ("ADDED", "c")],
                "5": []}


def resume(asks_bookmarks=True, keeps_rv=True, bookmark_rv=True, bookmark_is_event=False, raises=True):
    from k8slab.watch import status_error

    def answer(lister_watcher, resource_version, on_event):
        options = {"resource_version": resource_version, **({"allow_watch_bookmarks": True} if asks_bookmarks else {})}
        for event in lister_watcher.watch(options):
            if event["type"] == "ERROR":
                if raises:
                    raise status_error(event)
                continue
            if event["type"] == "BOOKMARK":
                if bookmark_is_event:
                    on_event(event)
                if not bookmark_rv:
                    continue
            else:
                on_event(event)
            if keeps_rv:
                resource_version = event["object"]["metadata"]["resourceVersion"]
        return resource_version

    return answer


def unwraps_tombstones(obj):
    if isinstance(obj, DeletedFinalStateUnknown):
        obj = obj.obj
    return meta_namespace_key_func(obj)


def always_namespaced(obj):
    return f"{obj['metadata'].get('namespace', 'default')}/{obj['metadata']['name']}"


def sync_handler_line(text: str) -> int:
    lines, first = inspect.getsourcelines(Controller.sync_handler)
    return next(first + i for i, line in enumerate(lines) if text in line)


def handle_object(unwrap=True, catch=True, check_kind=True, controller_only=True):
    def answer(obj, foos_lister, enqueue):
        if unwrap and isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        if not isinstance(obj, dict) and catch:
            return
        refs = obj["metadata"].get("ownerReferences") or []
        owner = get_controller_of(obj) if controller_only else (refs[0] if refs else None)
        if owner is None or (check_kind and owner.get("kind") != "Foo"):
            return
        try:
            enqueue(foos_lister.namespace(obj["metadata"]["namespace"]).get(owner["name"]))
        except errors.NotFound:
            if not catch:
                raise

    return answer


class Candidate:
    """11.1's reference answer, with a switch per plausible mistake."""

    def __init__(self, identity, lease_duration, trusts_timestamps=False, own_duration=False, counts=True,
                 keeps_acquire_time=True, restarts_countdown=True):
        self.identity, self.lease_duration = identity, lease_duration
        self.trusts_timestamps, self.own_duration, self.counts = trusts_timestamps, own_duration, counts
        self.keeps_acquire_time, self.restarts_countdown = keeps_acquire_time, restarts_countdown
        self.seen, self.seen_at = None, None

    def attempt(self, record, now):
        mine = LeaderElectionRecord(self.identity, int(self.lease_duration), now, now, 0)
        if record is None:
            return self._write(mine, now)
        if record != self.seen:
            same_holder = self.seen is not None and self.seen.holder_identity == record.holder_identity
            if self.restarts_countdown or not same_holder:
                self.seen_at = now
            self.seen = record
        since = record.renew_time if self.trusts_timestamps else self.seen_at
        duration = self.lease_duration if self.own_duration else record.lease_duration_seconds
        holder = record.holder_identity
        if holder and holder != self.identity and (now - since).total_seconds() < duration:
            return None
        if holder == self.identity:
            acquired = record.acquire_time if self.keeps_acquire_time else now
            mine = dataclasses.replace(mine, acquire_time=acquired, leader_transitions=record.leader_transitions)
        else:
            mine = dataclasses.replace(mine, leader_transitions=record.leader_transitions + (1 if self.counts else 0))
        return self._write(mine, now)

    def _write(self, record, now):
        self.seen, self.seen_at = record, now
        return record


def candidate(**mistakes):
    return lambda identity, lease_duration: Candidate(identity, lease_duration, **mistakes)


def reconcile(copies=True, claims_first=True, cleans_first=True, ours_only=True, raises=True, deleted_ok=True):
    """12.1's reference answer, with a switch per plausible mistake."""

    def answer(foo, foos, registry):
        key = f"{foo['metadata']['namespace']}/{foo['metadata']['name']}"
        obj = deep_copy(foo) if copies else foo
        if foo["metadata"].get("deletionTimestamp") and (deleted_ok or contains_finalizer(foo, FINALIZER)):
            if contains_finalizer(foo, FINALIZER):
                if cleans_first:
                    _deregister(registry, key, raises)
                if ours_only:
                    remove_finalizer(obj, FINALIZER)
                else:
                    obj["metadata"]["finalizers"] = []
                foos.update(obj)
                if not cleans_first:
                    _deregister(registry, key, raises)
            return
        if not claims_first:
            registry.register(key, foo["spec"]["replicas"])
        if add_finalizer(obj, FINALIZER):
            foos.update(obj)
            return
        if claims_first:
            registry.register(key, foo["spec"]["replicas"])

    return answer


def _deregister(registry, key, raises):
    try:
        registry.deregister(key)
    except RuntimeError:
        if raises:
            raise


# -- wrong answers for notebooks 00-05 ---------------------------------------------------


def _subject(cert_pem, issuer=False):
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.issuer if issuer else cert.subject


def user_info(issuer=False, first_group_only=False, none_without_name=True):
    from cryptography.x509.oid import NameOID

    def answer(cert_pem):
        subject = _subject(cert_pem, issuer)
        names = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not names and none_without_name:
            return None
        groups = [a.value for a in subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        return names[0].value, groups[:1] if first_group_only else groups

    return answer


def kubeconfig_merge(last_wins=False, last_current=False, by_field=False, nulls=True):
    def merge(docs):
        out = {"current-context": "", "clusters": {}, "users": {}, "contexts": {}}
        for doc in docs:
            current = doc.get("current-context") or ""
            out["current-context"] = (current or out["current-context"]) if last_current else (
                out["current-context"] or current)
            for section, inner in (("clusters", "cluster"), ("users", "user"), ("contexts", "context")):
                for item in (doc.get(section) or [] if nulls else doc.get(section, [])):
                    name, entry = item["name"], item.get(inner) or {}
                    if last_wins or name not in out[section]:
                        out[section][name] = entry
                    elif by_field:
                        out[section][name] = {**entry, **out[section][name]}
        return out

    return merge


class Bucket:
    """A token bucket with one of the mistakes learners make (switched on by the class attributes)."""

    start_empty = cap = False
    debt, allow_in_debt = True, False

    def __init__(self, qps, burst, clock):
        self.qps, self.burst, self.clock = qps, burst, clock
        self.tokens, self.last = (0.0 if self.start_empty else float(burst)), clock.now()

    def _advance(self):
        now = self.clock.now()
        tokens = self.tokens + (now - self.last) * self.qps
        return now, (tokens if self.cap else min(self.burst, tokens))

    def reserve(self):
        self.last, tokens = self._advance()
        if not self.debt and tokens < 1:
            self.tokens = tokens
            return (1 - tokens) / self.qps
        self.tokens = tokens - 1
        return max(0.0, -self.tokens / self.qps)

    def allow(self):
        now, tokens = self._advance()
        if tokens < 1 and not self.allow_in_debt:
            return False
        self.last, self.tokens = now, tokens - 1
        return tokens >= 1


def bucket(**mistakes):
    return type("WrongBucket", (Bucket,), mistakes)


def accessor(python_names=False, title=False, core=True):
    def answer(group, version):
        words = group.removesuffix(".k8s.io").split(".") if python_names else [group.split(".")[0]]
        if not group:
            words = ["core"] if core else []
        version = version.title() if title else version.capitalize()
        return "".join(w.capitalize() for w in words) + version

    return answer


def retry(catch=Exception, calls=5, swallow=False):
    from k8slab import errors

    def retry_on_conflict(fn):
        for attempt in range(calls):
            try:
                return fn()
            except (errors.Conflict if catch is None else catch):
                if attempt == calls - 1 and not swallow:
                    raise
        return None

    return retry_on_conflict


def pager(first_page_only=False, limit_once=False, keep_on_expiry=False, full_on_any_gone=False):
    from k8slab import errors

    def list_all(list_page, limit):
        items, token = [], None
        while True:
            try:
                page = list_page(limit=None if (limit_once and token) else limit, continue_=token)
            except errors.Gone:
                if keep_on_expiry:
                    return items
                if not token and not full_on_any_gone:
                    raise
                return list_page(limit=None, continue_=None)["items"]
            items += page["items"]
            token = page["metadata"].get("continue")
            if not token or first_page_only:
                return items

    return list_all


def url(core=True, namespaced_always=False, sort=True, encode=True):
    from urllib.parse import urlencode

    def answer(group, version, namespace, resource, name="", subresource="", params=None):
        parts = [f"/apis/{group}/{version}" if group or not core else f"/api/{version}"]
        if namespace or namespaced_always:
            parts += ["namespaces", namespace]
        parts += [p for p in (resource, name, subresource) if p]
        pairs = sorted((params or {}).items()) if sort else list((params or {}).items())
        query = urlencode(pairs) if encode else "&".join(f"{k}={v}" for k, v in pairs)
        return "/".join(parts) + ("?" + query if query else "")

    return answer


def mask(everything=False, case_sensitive=False, keep_unknown=False):
    def answer(key, value):
        if (key != "Authorization" if case_sensitive else key.lower() != "authorization") or not value:
            return value
        if everything:
            return "<masked>"
        scheme = value.split(" ", 1)[0]
        if scheme.lower() not in ("bearer", "basic", "negotiate") and not keep_unknown:
            return "<masked>"
        return f"{scheme} <masked>" if len(value) > len(scheme) + 1 else scheme

    return answer


WRONG_00_05 = [
    pytest.param("00.1", user_info(issuer=True), "admin certificate", ["'exercise-ca'", "not the issuer"],
                 id="00.1: the issuer's name"),
    pytest.param("00.1", user_info(first_group_only=True), "each Organization",
                 ["['students', 'admins']", "['students']"],
                 id="00.1: the first group only"),
    pytest.param("00.1", user_info(none_without_name=False), "without a CommonName", ["IndexError", "= None"],
                 id="00.1: no CommonName not handled"),
    pytest.param("01.1", ("admin@k8slab", "https://127.0.0.1:6443"), "team.yaml then admin.yaml",
                 ["('alice@k8slab', 'https://old-cluster.example:6443')"], id="01.1: the order of the notebook"),
    pytest.param("01.1", ("alice@k8slab", "https://127.0.0.1:6443"), "team.yaml then admin.yaml",
                 ["'https://old-cluster.example:6443'", "first to define a name"], id="01.1: the servers mixed"),
    pytest.param("01.1", "alice@k8slab", "team.yaml then admin.yaml", ["a pair of strings"], id="01.1: a string"),
    pytest.param("01.2", kubeconfig_merge(last_wins=True), "admin.yaml then team.yaml",
                 ['merged["clusters"]', "old-cluster.example"], id="01.2: the last file wins"),
    pytest.param("01.2", kubeconfig_merge(last_current=True), "first file that sets one",
                 ["'admin@k8slab'", "KubeConfigMerger"], id="01.2: the Python client's current-context"),
    pytest.param("01.2", kubeconfig_merge(by_field=True), "taken whole", ["insecure-skip-tls-verify"],
                 id="01.2: fields mixed across files"),
    pytest.param("01.2", kubeconfig_merge(nulls=False), "null", ["TypeError", "missing or null"],
                 id="01.2: a null section"),
    pytest.param("02.1", [0] * 10, "second ten", ["[0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.2", "never beyond burst"],
                 id="02.1: the bucket refills to full"),
    pytest.param("02.1", [0] * 5 + [0.2, 0.4, 0.6, 0.8, 1.0], "second ten", ["0.2, 0.2, 0.2, 0.2, 0.2]"],
                 id="02.1: waits add up on this clock"),
    pytest.param("02.1", [0.2] * 5, "second ten", ["a list of 10 numbers"], id="02.1: five numbers"),
    pytest.param("02.2", bucket(start_empty=True), "new bucket is full", ["[0.0, 0.0", "0.2, 0.4"],
                 id="02.2: starts empty"),
    pytest.param("02.2", bucket(debt=False), "arrive together", ["0.2, 0.4, 0.6]", "debt"],
                 id="02.2: no debt for callers arriving together"),
    pytest.param("02.2", bucket(cap=True), "never more than burst", ["twelve reserve() after a minute", "not 300"],
                 id="02.2: no cap at burst"),
    pytest.param("02.2", bucket(allow_in_debt=True), "allow() takes a token",
                 ["[True, False]", "a refusal takes nothing"],
                 id="02.2: allow runs into debt"),
    pytest.param("03.1", accessor(python_names=True), "dotted group", ["'RbacV1'", "'RbacAuthorizationV1'"],
                 id="03.1: the Python client's names"),
    pytest.param("03.1", accessor(title=True), "alpha and beta", ["'AdmissionregistrationV1Alpha1'", "capitalize"],
                 id="03.1: str.title() on the version"),
    pytest.param("03.1", accessor(core=False), "core group", ["'CoreV1'", "'V1'"], id="03.1: no name for core"),
    pytest.param("03.2", (5, 20), "steady request rate", ["(15.0, 20.0)", "(5.0, 20.0)", "its own at 5 QPS"],
                 id="03.2: one bucket for all with QPS 0"),
    pytest.param("03.2", (15, 60), "steady request rate", ["(15.0, 20.0)", "(15.0, 60.0)", "shares"],
                 id="03.2: a bucket per group version with QPS 20"),
    pytest.param("03.2", "15", "steady request rate", ["a pair of numbers"], id="03.2: a string"),
    pytest.param("04.1", retry(catch=Exception), "not retried", ["calls of fn = 1", "calls of fn = 2"],
                 id="04.1: retries every error"),
    pytest.param("04.1", retry(catch=None, calls=6), "five calls", ["calls of fn = 5", "calls of fn = 6"],
                 id="04.1: six calls"),
    pytest.param("04.1", retry(catch=None, swallow=True), "five calls",
                 ["raised Conflict: ", "(call 5)", "returned None"],
                 id="04.1: the last Conflict swallowed"),
    pytest.param("04.2", pager(first_page_only=True), "7 items", ["requests", "(3, 'page-after-3')"],
                 id="04.2: the first page only"),
    pytest.param("04.2", pager(limit_once=True), "7 items", ["(3, 'page-after-3')", "(None, 'page-after-3')"],
                 id="04.2: limit on the first page only"),
    pytest.param("04.2", pager(keep_on_expiry=True), "expired continue token", ["(None, None)", "FullListIfExpired"],
                 id="04.2: the pages so far on expiry"),
    pytest.param("04.2", pager(full_on_any_gone=True), "first request",
                 ["Gone error raised", "[(3, None), (None, None)]"],
                 id="04.2: a full list after any 410"),
    pytest.param("05.1", url(core=False), "core group lives", ["'/api/v1/namespaces/shop/pods/web-0'", "/apis//v1"],
                 id="05.1: /apis for the core group"),
    pytest.param("05.1", url(namespaced_always=True), "cluster-scoped", ["'/api/v1/nodes/node-1'", "namespaces//nodes"],
                 id="05.1: a namespace segment always"),
    pytest.param("05.1", url(sort=False), "sorted by key",
                 ["fieldSelector=spec.nodeName%3Dnode-1&limit=500&resourceVersion=0"],
                 id="05.1: the query unsorted"),
    pytest.param("05.1", url(encode=False), "sorted by key", ["app%3Dweb%2Ctier%21%3Ddb", "app=web,tier!=db"],
                 id="05.1: the query not encoded"),
    pytest.param("05.2", mask(everything=True), "keep their scheme", ["'Bearer <masked>'", "= '<masked>'"],
                 id="05.2: everything masked"),
    pytest.param("05.2", mask(case_sensitive=True), "any case",
                 ["mask('authorization', 'Bearer abc.def')", "EqualFold"],
                 id="05.2: the header name matched case-sensitively"),
    pytest.param("05.2", mask(keep_unknown=True), "unknown scheme", ["'Token <masked>'", "= '<masked>'"],
                 id="05.2: an unknown scheme kept"),
]


def url_for(guess=False, core=True, scoped=True, versioned=True):
    from k8slab.meta import SCOPE_NAMESPACE, GroupVersionKind, parse_group_version, unsafe_guess_kind_to_resource

    def answer(mapper, obj):
        group, version = parse_group_version(obj["apiVersion"])
        mapping = mapper.rest_mapping(group, obj["kind"], *([version] if versioned else []))
        resource = unsafe_guess_kind_to_resource(GroupVersionKind(group, version, obj["kind"])) if guess \
            else mapping.resource
        prefix = f"/apis/{group}/{mapping.resource.version}" if group or not core else f"/api/{version}"
        namespaced = mapping.scope == SCOPE_NAMESPACE or not scoped
        where = f"/namespaces/{obj['metadata'].get('namespace', 'default')}" if namespaced else ""
        return f"{prefix}{where}/{resource.resource}/{obj['metadata']['name']}"

    return answer


def rules_from_markers(verbs_sep=";", core=True, unquote=True, comments_only=True):
    import re

    marker = re.compile(r"^\s*//\s*\+kubebuilder:rbac:(.*)$" if comments_only else r"kubebuilder:rbac:([^\s\"]*)", re.M)

    def answer(source):
        triples = set()
        for args in marker.findall(source):
            fields = dict(part.split("=", 1) for part in args.strip().split(",") if "=" in part)
            values = {k: [v.strip('"') if unquote else v for v in fields.get(k, "").split(verbs_sep)]
                      for k in ("groups", "resources", "verbs")}
            groups = ["" if g == "core" and core else g for g in values["groups"]]
            triples |= {(g, r, v) for g in groups for r in values["resources"] for v in values["verbs"]}
        return triples

    return answer


def finalize(register_first=False, in_place=False, drop_all=False, swallow=False, deletion_if_ours=False):
    from k8slab.cache import deep_copy
    from k8slab.meta import add_finalizer, contains_finalizer, remove_finalizer
    from k8slab.samplecontroller.operator import FINALIZER

    def answer(foo, registry):
        key = f"{foo['metadata']['namespace']}/{foo['metadata']['name']}"
        ours = contains_finalizer(foo, FINALIZER)
        if foo["metadata"].get("deletionTimestamp") and (ours or not deletion_if_ours):
            if not ours:
                return None
            try:
                registry.deregister(key)
            except Exception:
                if not swallow:
                    raise
            foo = deep_copy(foo)
            if drop_all:
                foo["metadata"]["finalizers"] = []
            else:
                remove_finalizer(foo, FINALIZER)
            return foo
        if register_first:
            registry.register(key, foo["spec"].get("replicas") or 0)
        if not ours:
            foo = foo if in_place else deep_copy(foo)
            add_finalizer(foo, FINALIZER)
            return foo
        registry.register(key, foo["spec"].get("replicas") or 0)
        return None

    return answer


def status_is_current(missing_is_current=False, conditions=True):
    from k8slab.meta import find_status_condition

    def answer(foo):
        generation = foo["metadata"]["generation"]
        status = foo.get("status") or {}
        observed = status.get("observedGeneration", generation if missing_is_current else None)
        available = find_status_condition(status.get("conditions"), "Available") or {}
        return observed == generation and (not conditions or available.get("observedGeneration") == generation)

    return answer


# (exercise, wrong answer, the scenario that must fail, words its message must hold)
WRONG = [
    pytest.param("06.1", {**FIRST_EVENTS, "0": [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]}, 'from "0"',
                 ["('ADDED', 'b')", "b was deleted"], id="06.1: the history as ADDED events"),
    pytest.param("06.1", {**FIRST_EVENTS, "2": [("ADDED", "b")] + FIRST_EVENTS["2"]}, 'from "2"',
                 ["[('ADDED', 'b'), ('MODIFIED', 'a')", "not the one at 2"], id="06.1: from rv 2 includes the change at 2"),
    pytest.param("06.1", {**FIRST_EVENTS, "5": [("ADDED", "c")]}, 'from "5"', ["= []", "only what comes after it"],
                 id="06.1: from the newest rv replays its change"),
    pytest.param("06.1", [("ADDED", "a")], 'from "0"', ["a dict like"], id="06.1: a list, not a dict"),
    pytest.param("06.2", resume(asks_bookmarks=False), "asked for bookmarks", ['allow_watch_bookmarks"] = None'],
                 id="06.2: bookmarks not asked for"),
    pytest.param("06.2", resume(keeps_rv=False), "loses nothing and repeats nothing",
                 ["('MODIFIED', 'a'), ('MODIFIED', 'a')", "a change is seen once"],
                 id="06.2: resumes from where it started"),
    pytest.param("06.2", resume(bookmark_rv=False), "BOOKMARK moves", ["returned = '1'", "keep it"],
                 id="06.2: a bookmark's rv ignored"),
    pytest.param("06.2", resume(bookmark_is_event=True), "BOOKMARK moves", ["('BOOKMARK', None)", "not a change"],
                 id="06.2: a bookmark handed on as a change"),
    pytest.param("06.2", resume(raises=False), "ERROR event raises", ["Gone to be raised", "it returned '1'"],
                 id="06.2: an ERROR event swallowed"),
    pytest.param("07.1", ["Added", "Deleted", "Deleted"], "oldest first", ["['Added', 'Deleted']", "dedupDeltas"],
                 id="07.1: two deletions kept"),
    pytest.param("07.1", "Added, Deleted", "oldest first", ["a list of delta types"], id="07.1: a string"),
    pytest.param("07.2", ["Added"], "oldest first", ["'Deleted(tombstone)'"], id="07.2: no tombstone for a queued key"),
    pytest.param("07.2", ["Added", "Deleted"], "oldest first", ["'Deleted(tombstone)'"], id="07.2: a plain deletion"),
    pytest.param("07.3", meta_namespace_key_func, "a tombstone's key", ["UsageError", "return its .key"],
                 id="07.3: the plain key function"),
    pytest.param("07.3", unwraps_tombstones, "a tombstone's key", ["obj=None", "'shop/c'"],
                 id="07.3: unwraps the tombstone's object"),
    pytest.param("07.3", always_namespaced, "cluster-scoped", ["'node-1'", "'default/node-1'"],
                 id="07.3: a namespace for cluster-scoped objects"),
    pytest.param("09.2", step_without_done, "reconciles is done", ["processing", "['default/foo']", "done"],
                 id="09.2: no done"),
    pytest.param("09.2", step(on_failure="add"), "fails waits 5 ms", ["back on the queue at once", "hot loop"],
                 id="09.2: add instead of add_rate_limited"),
    pytest.param("09.2", step(forget_always=True), "fails waits 5 ms", ["num_requeues('default/foo') = 1", "= 0"],
                 id="09.2: forget after a failure too"),
    pytest.param("09.2", step(forget_on_success=False), "then is forgotten", ["after the success = 0", "= 2"],
                 id="09.2: no forget on success"),
    pytest.param("09.2", step(catch=RuntimeError), "unexpected error", ["KeyError", "escaped"],
                 id="09.2: catches RuntimeError only"),
    pytest.param("09.2", step(checks_shutdown=False), "shuts down", ["return value = False", "= True"],
                 id="09.2: ignores shutdown"),
    pytest.param("09.3", limiter(shift=1), "four times", ["[0.005, 0.01, 0.02, 0.04]", "[0.01, 0.02, 0.04, 0.08]"],
                 id="09.3: off by one doubling"),
    pytest.param("09.3", limiter(cap=False), "max_delay", ["1.0, 1.0]", "1.28"], id="09.3: no cap"),
    pytest.param("09.3", limiter(shared=True), "counted apart", ["when('b')", "0.04"], id="09.3: one count for all"),
    pytest.param("09.3", limiter(safe=False), "1100 times", ["OverflowError", "1000.0"], id="09.3: overflows"),
    pytest.param("09.4", 14, "at least 60 s", ["failure 14 waits 40.96 s, less than a minute"], id="09.4: one short"),
    pytest.param("09.4", 16, "at least 60 s", ["failure 15 already waits 81.92 s"], id="09.4: one too many"),
    pytest.param("09.4", "15", "at least 60 s", ["a whole number", "str '15'"], id="09.4: a string"),
    pytest.param("10.1", "deployment = deployments.create(new_deployment(foo), field_manager=FIELD_MANAGER)",
                 "forbidden", ["leads to the refused call", "create deployments, update foos/status (403)"],
                 id="10.1: the create (it is allowed)"),
    pytest.param("10.1", sync_handler_line("self.update_foo_status(") - 1, "forbidden",
                 ["leads to the refused call", "(# "], id="10.1: the line above (a comment)"),
    pytest.param("10.1", "foo", "forbidden", ["which is part of", "quote more"], id="10.1: too short a quote"),
    pytest.param("10.2", handle_object(unwrap=False), "tombstone", ["= []", "unwrap the tombstone (.obj)"],
                 id="10.2: tombstones not unwrapped"),
    pytest.param("10.2", handle_object(check_kind=False), "no Foo controls", ["ReplicaSet named web = []",
                 "['demo/web']"], id="10.2: any kind of owner"),
    pytest.param("10.2", handle_object(controller_only=False), "no Foo controls", ["controller: false = []"],
                 id="10.2: any owner reference, not only the controller"),
    pytest.param("10.2", handle_object(catch=False), "orphan", ["NotFound escaped", "must never raise"],
                 id="10.2: the lister's NotFound escapes"),
    pytest.param("10.3", ["get foos", "get deployments", "update deployments", "update foos/status"], "one sync",
                 ["from the listers", "no GET"], id="10.3: reads from the API server"),
    pytest.param("10.3", ["update deployments"], "one sync", ["writing the Foo's status"], id="10.3: no status"),
    pytest.param("11.1", candidate(trusts_timestamps=True), "never at its renewTime",
                 ["an hour ago", "None (wait)", "never compare renew_time"], id="11.1: compares renewTime with now"),
    pytest.param("11.1", candidate(own_duration=True), "not yours", ["leaseDurationSeconds 30", "isLeaseValid"],
                 id="11.1: its own lease duration"),
    pytest.param("11.1", candidate(counts=False), "released", ["transitions=5", "transitions=4"],
                 id="11.1: no transition counted"),
    pytest.param("11.1", candidate(keeps_acquire_time=False), "renewed: same acquire", ["acquire=t+0s",
                 "acquire=t+2s"], id="11.1: a renewal moves acquireTime"),
    pytest.param("11.1", candidate(restarts_countdown=False), "keeps renewing", ["None (wait)", "restarts the countdown"],
                 id="11.1: counts from the first sight of the holder"),
    pytest.param("12.1", reconcile(copies=False), "new Foo", ["cached Foo left as it was", "deep_copy"],
                 id="12.1: changes the cached object"),
    pytest.param("12.1", reconcile(claims_first=False), "new Foo", ["'register demo/web 2', \"update"],
                 id="12.1: registers before claiming"),
    pytest.param("12.1", reconcile(cleans_first=False), "cleaned up outside", ["\"update finalizers=['other",
                 "deregister first"], id="12.1: lets go before cleaning up"),
    pytest.param("12.1", reconcile(ours_only=False), "cleaned up outside", ["update finalizers=[]", "and no other"],
                 id="12.1: removes every finalizer"),
    pytest.param("12.1", reconcile(raises=False), "fails keeps", ["RuntimeError to escape", "never retried"],
                 id="12.1: swallows the clean-up's error"),
    pytest.param("12.1", reconcile(deleted_ok=False), "left alone", ["= []", "no new finalizers"],
                 id="12.1: claims a Foo that is being deleted"),
    pytest.param("12.2", ["10:00", "10:05", "10:07", "10:09"], "Available", ["'10:00', '10:00', '10:07', '10:07'",
                 "only when the status flips"], id="12.2: every write moves it"),
    pytest.param("12.2", "10:00 10:00 10:07 10:07", "Available", ["a list of four"], id="12.2: a string"),
    pytest.param("13.1", url_for(guess=True), "octopi", ["/octopi/inky", "/octopuses/inky", "spec.names.plural"],
                 id="13.1: guesses the plural from the kind"),
    pytest.param("13.1", url_for(core=False), "a Pod", ["'/api/v1/namespaces/shop/pods/web'", "/apis//v1"],
                 id="13.1: /apis for the core group too"),
    pytest.param("13.1", url_for(scoped=False), "cluster-scoped", ["'/api/v1/nodes/node-1'", "namespaces/default"],
                 id="13.1: everything in a namespace"),
    pytest.param("13.1", url_for(versioned=False), "keeps its own version", ["autoscaling/v2", "object's version"],
                 id="13.1: the preferred version instead of the object's"),
    pytest.param("13.2", rules_from_markers(verbs_sep=","), "one marker", ["apps deployments get;list;watch", "';'"],
                 id="13.2: values split on commas"),
    pytest.param("13.2", rules_from_markers(core=False), "the core group", ["core events create", "(core) events"],
                 id="13.2: groups=core kept as a group named core"),
    pytest.param("13.2", rules_from_markers(unquote=False), "the core group", ['"" pods get', "quoted"],
                 id="13.2: the quotes kept"),
    pytest.param("13.2", rules_from_markers(comments_only=False), "grant nothing", ["delete", "comment lines"],
                 id="13.2: any line that mentions a marker"),
    pytest.param("14.1", finalize(register_first=True), "first time", ["['shop/web']", "claim before"],
                 id="14.1: registers before claiming"),
    pytest.param("14.1", finalize(in_place=True), "first time", ["the Foo it was given", "deep-copy"],
                 id="14.1: changes the cache's object"),
    pytest.param("14.1", finalize(drop_all=True), "only our finalizer", ["['foregroundDeletion']", "= []"],
                 id="14.1: removes every finalizer"),
    pytest.param("14.1", finalize(swallow=True), "cleanup fails", ["ConnectionError raised", "finalizers []"],
                 id="14.1: lets go although the cleanup failed"),
    pytest.param("14.1", finalize(deletion_if_ours=True), "no longer ours", ["None", "samplecontroller.k8s.io/cleanup"],
                 id="14.1: claims a Foo that is being deleted"),
    pytest.param("14.2", status_is_current(missing_is_current=True, conditions=False), "no way to tell",
                 ["observedGeneration (none)", "= False", "treat it as stale"], id="14.2: no observedGeneration is current"),
    pytest.param("14.2", status_is_current(conditions=False), "predates", ["condition's 3", "= False"],
                 id="14.2: the condition's own generation ignored"),
]
WRONG += WRONG_00_05


def images_of(init=True, once=True, bare_string=False):
    def by_image(pod):
        spec = pod["spec"]
        containers = spec.get("containers", []) + (spec.get("initContainers", []) if init else [])
        if bare_string:
            return containers[0]["image"]
        images = [c["image"] for c in containers]
        return sorted(set(images)) if once else images

    return by_image


WRONG_08_09A = [
    pytest.param("08.1", images_of(init=False), "init containers", ["['nginx:1.27']", "initContainers"],
                 id="08.1: containers only"),
    pytest.param("08.1", images_of(once=False), "is one value", ["'envoy:1.33', 'envoy:1.33'", "dedupe"],
                 id="08.1: an image twice"),
    pytest.param("08.1", images_of(bare_string=True), "one container", ["list of strings", "characters"],
                 id="08.1: a bare string"),
    pytest.param("09a.1", ["update c", "update a", "add d", "delete b"], "in order",
                 ["['delete b', 'update c', 'update a', 'add d']", "deletions first"],
                 id="09a.1: the classic order"),
    pytest.param("09a.1", ["delete b", "update a", "add d"], "in order", ["four calls", "'update c'"],
                 id="09a.1: an unchanged object is not updated"),
    pytest.param("09a.2", ["delete b", "update c", "update a", "add d"], "in order",
                 ["['update c', 'update a', 'add d', 'delete b']", "then a tombstone"],
                 id="09a.2: today's order"),
    pytest.param("09a.2", "update c, update a", "in order", ["a list of calls"], id="09a.2: a string"),
]
WRONG += WRONG_08_09A


@pytest.mark.parametrize(("exercise_id", "answer", "scenario", "words"), WRONG)
def test_a_plausible_wrong_answer_fails_the_scenario_that_catches_it_with_a_precise_message(
    exercise_id, answer, scenario, words
):
    result = exercises.run(exercise_id, answer)
    assert not result.passed
    failed = [s for s in result.failures if scenario in s.name]
    assert failed, f"expected the scenario {scenario!r} to fail; report:\n{result.report()}"
    message = f"{failed[0].expected} | {failed[0].got} | {failed[0].hint}"
    for word in words:
        assert word in message, f"{word!r} not in: {message}"
    report = result.report()
    assert report.startswith(f"✘ {exercise_id} failed") and f"✘ {failed[0].name}" in report
    assert "expected:" in report and "got:" in report


def test_every_registered_exercise_has_wrong_answers_that_its_check_rejects():
    covered = {p.values[0] for p in WRONG}
    assert covered == set(exercises.exercise_ids())


def test_a_right_answer_written_another_way_passes_too():
    def process_next_work_item(queue, reconcile):  # add_after(when) instead of add_rate_limited; done first
        key, shutdown = queue.get()
        if shutdown:
            return False
        ok = True
        try:
            reconcile(key)
        except Exception:
            ok = False
        queue.done(key)
        if ok:
            queue.forget(key)
        else:
            queue.add_after(key, queue.rate_limiter.when(key))
        return True

    assert exercises.run("09.2", process_next_work_item).passed
    assert exercises.run("07.3", deletion_handling_meta_namespace_key_func).passed
    assert exercises.run("06.2", resume()).passed  # never stops its watches: the server's end is enough


# -- the framework ---------------------------------------------------------------


def test_check_prints_one_pass_line(capsys):
    exercises.check("07.1", ["Added", "Deleted"])
    assert capsys.readouterr().out == "✔ 07.1 passed (1 scenario): add(a), delete(a), delete(a)\n"


def test_an_unfinished_answer_is_not_answered_yet(capsys):
    def key(obj):
        raise NotImplementedError

    exercises.check("07.3", key)
    assert capsys.readouterr().out.startswith("… 07.3 not answered yet: write a function key(obj)")
    exercises.check("09.4", ...)
    assert capsys.readouterr().out == "… 09.4 not answered yet: write a number: the n-th failure, then run the check again\n"


def test_a_value_where_a_function_is_expected_is_refused():
    result = exercises.run("09.2", 42)
    assert not result.passed and result.scenarios == ()
    assert result.report() == (
        "✘ 09.2: expected a function process_next_work_item(queue, reconcile) -> bool; got int 42"
    )


def test_an_unknown_exercise_is_a_usage_error_naming_the_notebooks_exercises():
    with pytest.raises(UsageError) as err:
        exercises.check("09.9", print)
    assert "no exercise '09.9'" in str(err.value) and "09.2, 09.3, 09.4" in str(err.value)


def test_an_error_in_the_answer_names_its_line():
    def key(obj):
        return obj["metadata"]["name"].upper() + obj.missing  # noqa: B018

    got = exercises.run("07.3", key).failures[0].got
    assert got.startswith("AttributeError") and f"at line {key.__code__.co_firstlineno + 1} of key" in got


def test_describe_lists_the_scenarios():
    text = exercises.describe("09.3")
    assert text.startswith("09.3: a per-item exponential rate limiter")
    assert "  - keys are counted apart" in text


def test_a_live_exercise_says_what_to_pass():
    live = Exercise("99.1", "a live one", answer="a function", needs=("clientset",))
    with pytest.raises(UsageError, match=r"pass clientset=clientset \(check\('99.1', answer, clientset=clientset\)\)"):
        run_exercise(live, print, {})


def test_an_answer_that_blocks_is_reported_and_released_by_the_scenarios_cleanup():
    released = threading.Event()
    slow = Exercise("99.2", "a blocking one", answer="a function", timeout=0.3)

    @slow.scenario("the answer returns")
    def _(answer, run):
        run.defer(released.set)
        answer(released)

    result = run_exercise(slow, lambda event: event.wait(), {})
    assert not result.passed and "still running" in result.failures[0].got
    assert released.is_set()
    assert not [t for t in threading.enumerate() if t.name == "k8slab-exercise-99.2"]


def test_cleanups_run_after_a_mismatch_last_first():
    order: list[str] = []
    ex = Exercise("99.3", "cleanups", answer="a value", callable_answer=False)

    @ex.scenario("fails")
    def _(answer, run):
        run.defer(lambda: order.append("first"))
        run.defer(lambda: order.append("second"))
        expect("the answer", answer, 1)

    result = run_exercise(ex, 2, {})
    assert (result.failures[0].expected, result.failures[0].got) == ("the answer = 1", "the answer = 2")
    assert order == ["second", "first"]


def test_an_id_registered_twice_is_an_error():
    with pytest.raises(UsageError, match="registered twice"):
        register(Exercise("09.2", "again", answer="x"))


def test_mismatch_reads_as_a_sentence():
    assert str(Mismatch("a", "b")) == "expected a; got b"
