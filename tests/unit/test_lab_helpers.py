"""`k8slab.lab.helpers.wait_for`: the one wait of the course, silent in scripts, one widget and one line in a notebook.

The notebook display is checked by calling it with `show=True` and catching
what it hands to `IPython.display.display`: a kernel would send exactly that.
"""

from __future__ import annotations

import itertools

import pytest

from k8slab.errors import ConditionTimeout, UsageError
from k8slab.lab import helpers
from k8slab.lab.helpers import wait_for


def counting_to(n):
    """A condition that is true (returning the count) on its n-th call."""
    calls = itertools.count(1)
    return lambda: (c := next(calls)) >= n and c


def test_returns_the_first_true_value_and_is_silent_outside_a_kernel(capsys):
    assert wait_for("three calls", counting_to(3), timeout=10, interval=0.001) == 3
    assert capsys.readouterr() == ("", "")


def test_a_condition_never_true_raises_condition_timeout_naming_it():
    with pytest.raises(ConditionTimeout, match=r"^the Foo available: still not true after 0.05 s$"):
        wait_for("the Foo available", lambda: False, timeout=0.05, interval=0.01)


@pytest.mark.parametrize("options", [dict(timeout=0), dict(timeout=-1), dict(interval=0)])
def test_a_timeout_or_interval_that_is_not_positive_is_a_usage_error(options):
    with pytest.raises(UsageError, match="must be positive seconds"):
        wait_for("x", lambda: True, **options)


@pytest.fixture
def displayed(monkeypatch):
    """What wait_for displays, as a kernel would receive it."""
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append((obj, raw)))
    return shown


def test_in_a_notebook_one_widget_with_a_stable_text_fallback_then_one_printed_line(displayed, capsys):
    value = wait_for("example-foo available", counting_to(2), timeout=60, interval=0.001, show=True)
    assert value == 2
    [(bundle, raw)] = displayed
    assert raw and bundle["text/plain"] == "waiting: example-foo available (at most 60 s)"
    assert "model_id" in bundle["application/vnd.jupyter.widget-view+json"]
    assert capsys.readouterr().out == "example-foo available: done\n"


def test_in_a_notebook_the_live_line_is_hidden_once_done_and_says_why_on_a_timeout(displayed, monkeypatch):
    widgets = []
    real_open = helpers._Progress.open

    def keep(what, timeout):
        progress = real_open(what, timeout)
        widgets.append(progress.widget)
        return progress

    monkeypatch.setattr(helpers._Progress, "open", staticmethod(keep))
    wait_for("quick", lambda: True, timeout=5, show=True)
    assert widgets[0].layout.display == "none" and widgets[0].value == "quick: done"
    with pytest.raises(ConditionTimeout):
        wait_for("never", lambda: False, timeout=0.05, interval=0.01, show=True)
    assert widgets[1].value == "never: still not true after 0.05 s" and widgets[1].layout.display != "none"


def test_outside_a_kernel_nothing_is_displayed(displayed):
    wait_for("quiet", lambda: True)
    assert displayed == []
