"""Exercises a learner can check: `k8slab.exercises.check("09.2", my_answer)`.

Each notebook's checkable exercises are defined in one module, named after
the notebook (`e07.py`, `e09.py`, ...), with the scenarios that matter; the
framework is `framework.py`. Reference answers live in
`notebooks/solutions/NN-solutions.ipynb`, which run under nbval like the
course; `tests/unit/test_views_exercises.py` proves that every check passes
its reference answer and rejects plausible wrong ones.

    check(id, answer, **context)   print a pass line, or which scenario failed, what was
                                   expected and what happened
    run(id, answer, **context)     the same as a `Result`, for code and tests
    describe(id)                   what the exercise asks for, and its scenarios
    exercise(id), exercise_ids()   one registered Exercise; every exercise with a check
"""

from __future__ import annotations

from typing import Any

from k8slab.views.exercises import e00, e01, e02, e03, e04, e05  # noqa: F401  (notebooks 00-05)
from k8slab.views.exercises import e06, e07, e08, e09, e09a, e10, e11, e12, e13, e14  # noqa: F401  (one per notebook)
from k8slab.views.exercises.framework import Exercise, Result, exercise, exercise_ids, run_exercise

__all__ = ["Exercise", "Result", "check", "describe", "exercise", "exercise_ids", "run"]


def run(exercise_id: str, answer: Any, **context: Any) -> Result:
    """Run exercise `exercise_id`'s scenarios against `answer`.

    `context` gives a live exercise what it needs from the notebook (e.g.
    `clientset=...`); an exercise names it when it is missing."""
    return run_exercise(exercise(exercise_id), answer, context)


def check(exercise_id: str, answer: Any, **context: Any) -> None:
    """Check `answer` and print the outcome: one pass line, or every scenario with what failed."""
    print(run(exercise_id, answer, **context).report())


def describe(exercise_id: str) -> str:
    """What exercise `exercise_id` asks for and the scenarios its check runs."""
    ex = exercise(exercise_id)
    lines = [f"{ex.id}: {ex.title}", f"answer: {ex.answer}", "scenarios:"]
    lines += [f"  - {s.name}" for s in ex.scenarios]
    return "\n".join(lines)
