"""The dashboard's two renderings: HTML rows a browser test counts, and the text fallback's tables."""

from __future__ import annotations

from k8slab.samplecontroller.dashboard import render_table, text_table


def test_a_live_table_has_one_row_per_object_named_by_data_name():
    html = render_table("foos", ["name", "replicas"], [("a", ["a", 1]), ("b<", ["b<", 2])])
    assert html.startswith("<b>Foos</b> (2)")
    assert '<table class="k8slab-live" data-kind="foos">' in html
    assert html.count("<tr data-name=") == 2 and '<tr data-name="b&lt;">' in html


def test_a_text_table_aligns_its_columns_and_has_no_trailing_spaces():
    text = text_table("Foos (2)", ["name", "replicas"], [["example-foo", 3], ["a", 10]])
    assert text.split("\n") == [
        "Foos (2)",
        "  name         replicas",
        "  example-foo  3",
        "  a            10",
    ]


def test_an_empty_text_table_is_its_title_and_header():
    assert text_table("Pods (0)", ["foo", "pods"], []) == "Pods (0)\n  foo  pods"
