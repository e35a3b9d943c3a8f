"""Views for the notebooks: the code beside its Go original, and exercises a learner can check.

Floor 4 of the package (see pyproject's import-linter contracts): it may use
everything below it, and only notebooks, the CLI and `k8slab/__init__.py` use it.

    source.py      show_source: a k8slab function beside the client-go Go it mirrors
    pysource.py    the Python side: inspect, anchors for a part, repository-relative links
    upstream.py    the Go side: pinned modules, the Go module cache, GitHub links
    goscan.py      a small Go scanner: one top-level declaration and its doc comment
    pipeline.py    PipelineView: an informer and its workqueue, drawn live (a text table when stopped)
    exercises/     check(): a learner's answer run against the scenarios that matter

`show_source` and `exercises` are also `k8slab.show_source` and `k8slab.exercises`.
"""

from k8slab.views.pipeline import PipelineState, PipelineView
from k8slab.views.source import SourceView, show_source, upstream_mode

__all__ = ["PipelineState", "PipelineView", "SourceView", "show_source", "upstream_mode"]
