"""One in-memory API server for tests and notebooks, in the spirit of client-go's `testing` package.

    tracker.py   testing/fixture.go                 ObjectTracker: objects, resourceVersions, watches, faults
    fake.py      testing/fake.go, actions.go,       FakeDynamicClient: actions and reactors
                 dynamic/fake/simple.go

The fakes elsewhere are views of it: `k8slab.cache.testing.FakeSource` (a
ListerWatcher), `k8slab.leaderelection.testing.FakeLeases`,
`k8slab.samplecontroller.fake.FakeClientset`.
"""

from k8slab.testing.fake import Action, FakeDynamicClient, FakeResourceClient, Reaction, fail_once
from k8slab.testing.tracker import INITIAL_EVENTS_END_ANNOTATION, FakeWatch, ObjectTracker

__all__ = ["Action", "FakeDynamicClient", "FakeResourceClient", "FakeWatch", "INITIAL_EVENTS_END_ANNOTATION",
           "ObjectTracker", "Reaction", "fail_once"]
