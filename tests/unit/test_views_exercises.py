"""Checkable exercises: every check passes its reference answer and rejects plausible wrong ones.

The reference answers are the code cells of notebooks/solutions/*.ipynb,
executed here as they are (one source of truth, also run under nbval). The
wrong answers are the mistakes a learner makes; each must fail the scenario
that catches it, with a message that says what was expected and what happened.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import threading
from pathlib import Path
from typing import Any

import pytest

from k8slab import exercises
from k8slab.cache import DeletedFinalStateUnknown, deletion_handling_meta_namespace_key_func, meta_namespace_key_func
from k8slab.errors import UsageError
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


def unwraps_tombstones(obj):
    if isinstance(obj, DeletedFinalStateUnknown):
        obj = obj.obj
    return meta_namespace_key_func(obj)


def always_namespaced(obj):
    return f"{obj['metadata'].get('namespace', 'default')}/{obj['metadata']['name']}"


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
