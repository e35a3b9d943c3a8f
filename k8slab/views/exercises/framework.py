"""The machinery of checkable exercises: an exercise, its scenarios, a run, a report.

Mirrors no client-go file. An `Exercise` is registered once, in the module of
its lesson (`e09.py` holds notebook 09's); each of its scenarios is a sentence
and a function that drives the learner's answer through one situation that
matters and raises `Mismatch(expected, got)` when the answer behaves wrongly:

    worker = define("09.2", "a worker step ...", answer="a function f(queue, reconcile) -> bool")

    @worker.scenario("a key whose reconcile fails is rate-limited, then done")
    def _(answer, run):
        ...
        expect("its requeues", queue.num_requeues(key), 1, hint="...")

Each scenario runs in a thread of its own (`k8slab-exercise-<id>`) with a
deadline, so an answer that blocks (a worker waiting on an empty queue) is
reported, not left hanging the notebook; the cleanups a scenario registers
with `run.defer(...)` run afterwards in every case (they also unblock such an
answer: a queue shut down wakes its `get`). A scenario against the lab names
what it needs (`Exercise(..., needs=("clientset",))`) and reads it from
`run.context`; `check("12.1", answer, clientset=cs)` passes it.

Kept out on purpose: any grading or scoring. A check says which scenario
failed, what was expected and what happened, and how to look closer.
"""

from __future__ import annotations

import difflib
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from k8slab.errors import UsageError

__all__ = [
    "Exercise",
    "Mismatch",
    "Result",
    "Run",
    "ScenarioResult",
    "define",
    "exercise",
    "exercise_ids",
    "expect",
    "register",
    "run_exercise",
]

_PACKAGE_DIR = str(Path(__file__).resolve().parents[2])  # .../k8slab


class Mismatch(Exception):
    """Raised by a scenario: the answer did `got` where `expected` was right."""

    def __init__(self, expected: str, got: str, hint: str = "") -> None:
        super().__init__(f"expected {expected}; got {got}")
        self.expected, self.got, self.hint = expected, got, hint


def expect(what: str, got: Any, expected: Any, hint: str = "") -> None:
    """Raise `Mismatch` unless `got == expected`; `what` names the quantity."""
    if got != expected:
        raise Mismatch(f"{what} = {expected!r}", f"{what} = {got!r}", hint)


class Run:
    """What a scenario gets besides the answer: the check's context and its cleanups."""

    def __init__(self, context: dict[str, Any]) -> None:
        self.context = context
        self._cleanups: list[Callable[[], Any]] = []

    def defer(self, cleanup: Callable[[], Any]) -> None:
        """Call `cleanup` when the scenario ends, however it ends (last deferred, first called)."""
        self._cleanups.append(cleanup)

    def _clean_up(self) -> None:
        while self._cleanups:
            try:
                self._cleanups.pop()()
            except Exception:  # a cleanup must not hide the scenario's outcome
                pass


@dataclass(frozen=True)
class _Scenario:
    name: str
    body: Callable[[Any, Run], None]


@dataclass
class Exercise:
    """One checkable exercise of one notebook."""

    id: str  # "09.2": notebook 09, exercise 2
    title: str  # what the answer must do, in a phrase
    answer: str  # what to pass to check(), e.g. "a function process_next_work_item(queue, reconcile) -> bool"
    callable_answer: bool = True  # False: the answer is a value (a prediction)
    needs: tuple[str, ...] = ()  # context names a live scenario reads from run.context
    timeout: float = 20.0  # seconds per scenario, generous for a loaded machine
    scenarios: list[_Scenario] = field(default_factory=list)

    def scenario(self, name: str) -> Callable[[Callable[[Any, Run], None]], Callable[[Any, Run], None]]:
        """Decorator: add a scenario, named by a sentence saying what must happen."""

        def add(body: Callable[[Any, Run], None]) -> Callable[[Any, Run], None]:
            self.scenarios.append(_Scenario(name, body))
            return body

        return add


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    passed: bool
    expected: str = ""
    got: str = ""
    hint: str = ""
    unanswered: bool = False  # the answer raised NotImplementedError


@dataclass(frozen=True)
class Result:
    """The outcome of one check. `report()` is what `check` prints."""

    exercise: Exercise
    scenarios: tuple[ScenarioResult, ...]
    refused: str = ""  # the answer was not even of the kind asked for: what it was

    @property
    def passed(self) -> bool:
        return not self.refused and all(s.passed for s in self.scenarios)

    @property
    def failures(self) -> tuple[ScenarioResult, ...]:
        return tuple(s for s in self.scenarios if not s.passed)

    def report(self) -> str:
        ex, n = self.exercise, len(self.scenarios)
        if self.passed:
            return f"✔ {ex.id} passed ({n} scenario{'s' if n != 1 else ''}): {ex.title}"
        if any(s.unanswered for s in self.scenarios):
            return f"… {ex.id} not answered yet: write {ex.answer}, then run the check again"
        if self.refused:
            return f"✘ {ex.id}: expected {ex.answer}; got {self.refused}"
        lines = [f"✘ {ex.id} failed {len(self.failures)} of {n} scenarios: {ex.title}"]
        for s in self.scenarios:
            lines.append(f"  {'✔' if s.passed else '✘'} {s.name}")
            if not s.passed:
                lines.append(f"      expected: {s.expected}")
                lines.append(f"      got:      {s.got}")
                if s.hint:
                    lines.append(f"      hint:     {s.hint}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()


_REGISTRY: dict[str, Exercise] = {}


def register(ex: Exercise) -> Exercise:
    """Add `ex` to the registry; an id registered twice is a programming error."""
    if ex.id in _REGISTRY:
        raise UsageError(f"exercise {ex.id!r} is registered twice")
    _REGISTRY[ex.id] = ex
    return ex


def define(exercise_id: str, title: str, *, answer: str, **options: Any) -> Exercise:
    """Create and register an exercise; add its scenarios with `@ex.scenario(...)`."""
    return register(Exercise(exercise_id, title, answer, **options))


def exercise_ids() -> list[str]:
    """Every registered exercise id, sorted."""
    return sorted(_REGISTRY)


def exercise(exercise_id: str) -> Exercise:
    """The registered exercise `exercise_id`, or a `UsageError` naming the nearest ids."""
    ex = _REGISTRY.get(str(exercise_id))
    if ex is None:
        notebook = str(exercise_id).partition(".")[0]
        near = [i for i in exercise_ids() if i.startswith(notebook + ".")] or difflib.get_close_matches(
            str(exercise_id), exercise_ids(), n=5, cutoff=0.3
        )
        raise UsageError(
            f"no exercise {exercise_id!r}; exercises with a check: {', '.join(near or exercise_ids())}"
        )
    return ex


def run_exercise(ex: Exercise, answer: Any, context: dict[str, Any]) -> Result:
    """Run every scenario of `ex` against `answer`; never raises for a wrong answer.

    `...` (Ellipsis) and an answer raising NotImplementedError are "not answered yet"."""
    missing = [name for name in ex.needs if context.get(name) is None]
    if missing:
        args = ", ".join(f"{name}={name}" for name in missing)
        raise UsageError(f"exercise {ex.id} runs against the lab: pass {args} (check({ex.id!r}, answer, {args}))")
    if answer is ...:  # the placeholder a notebook's exercise cell starts with
        return Result(ex, (ScenarioResult("the answer", False, ex.answer, "...", unanswered=True),))
    if ex.callable_answer and not callable(answer):
        return Result(ex, (), refused=f"{type(answer).__name__} {answer!r:.60}")
    return Result(ex, tuple(_run_scenario(ex, s, answer, context) for s in ex.scenarios))


def _run_scenario(ex: Exercise, scenario: _Scenario, answer: Any, context: dict[str, Any]) -> ScenarioResult:
    run = Run(context)
    outcome: list[BaseException | None] = []

    def body() -> None:
        try:
            scenario.body(answer, run)
            outcome.append(None)
        except Exception as exc:  # the learner's code may raise anything
            outcome.append(exc)

    thread = threading.Thread(target=body, name=f"k8slab-exercise-{ex.id}", daemon=True)
    thread.start()
    thread.join(ex.timeout)
    run._clean_up()  # also wakes an answer blocked on a queue the scenario shuts down
    if thread.is_alive():
        thread.join(2.0)
        return ScenarioResult(
            scenario.name, False, f"the answer returns within {ex.timeout:g} s",
            "it was still running (waiting on something that never came?)",
        )
    error = outcome[0] if outcome else None
    if error is None:
        return ScenarioResult(scenario.name, True)
    if isinstance(error, Mismatch):
        return ScenarioResult(scenario.name, False, error.expected, error.got, error.hint)
    if isinstance(error, NotImplementedError):
        return ScenarioResult(scenario.name, False, ex.answer, "NotImplementedError", unanswered=True)
    return ScenarioResult(scenario.name, False, "no exception", raised(error))


def raised(error: BaseException) -> str:
    """"KeyError('x') at line 4 of my_func": where in the learner's code an error came from."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if not f.filename.startswith(_PACKAGE_DIR)]
    where = f" at line {frames[-1].lineno} of {frames[-1].name}" if frames else ""
    return f"{type(error).__name__}: {error}{where}"
