"""sample-controller in Python, on k8slab's informers, listers and workqueue.

    controller.py   controller.go                 the controller, name for name
    crd.py          artifacts/examples/*.yaml     the Foo CRD (foo-crd.yaml), new_foo
    clientset.py    clientset.go                  DictClientset: typed shape over the dynamic client
    rbac.py         (kubectl create clusterrole)  least-privilege ClusterRole and Role
    app.py          main.go                       App: clients, informers, controller, leader election
    operator.py     (notebook 12)                 sample-controller plus finalizer,
                                                  observedGeneration and conditions
    dashboard.py    -                             a live ipywidgets view for notebooks
    fake.py         kubernetes/fake               FakeClientset: the same shape over k8slab.testing
    __main__.py     main.go, pkg/signals          `python -m k8slab.samplecontroller`

Events (`tools/record`) are `k8slab.record`'s, owner references, finalizers and
conditions (apimachinery's meta helpers) `k8slab.meta`'s, the dynamic client
`k8slab.chain.dynamic`'s. See controller.py's docstring for the Go <-> Python map.
"""

import logging

from k8slab.record import FakeRecorder, new_recorder
from k8slab.samplecontroller.app import App, LeaderElectionOptions
from k8slab.samplecontroller.clientset import DictClientset, new_for_config, new_for_kubeconfig
from k8slab.samplecontroller.controller import (
    CONTROLLER_AGENT_NAME,
    ERR_RESOURCE_EXISTS,
    FIELD_MANAGER,
    MESSAGE_RESOURCE_EXISTS,
    MESSAGE_RESOURCE_SYNCED,
    SUCCESS_SYNCED,
    Controller,
    new_controller,
    new_deployment,
)
from k8slab.samplecontroller.crd import (
    API_VERSION,
    DEPLOYMENTS_RESOURCE,
    FOOS_RESOURCE,
    foo_crd,
    install_crd,
    new_foo,
)

__all__ = [
    "API_VERSION",
    "App",
    "CONTROLLER_AGENT_NAME",
    "Controller",
    "DEPLOYMENTS_RESOURCE",
    "DictClientset",
    "ERR_RESOURCE_EXISTS",
    "FIELD_MANAGER",
    "FOOS_RESOURCE",
    "FakeRecorder",
    "LeaderElectionOptions",
    "MESSAGE_RESOURCE_EXISTS",
    "MESSAGE_RESOURCE_SYNCED",
    "SUCCESS_SYNCED",
    "foo_crd",
    "install_crd",
    "new_controller",
    "new_deployment",
    "new_foo",
    "new_for_config",
    "new_for_kubeconfig",
    "new_recorder",
]

# A library logs; the application decides where to: no "lastResort" output on stderr
# (in a notebook that would land in whichever cell runs). `python -m` configures handlers.
logging.getLogger("k8slab.samplecontroller").addHandler(logging.NullHandler())
