"""The same Foo controller four ways: sample-controller's behaviour in k8slab, Go, controller-runtime and kopf.

    from k8slab.operators import run, kubeconfig_for
    kubeconfig = kubeconfig_for(lab, admin, "kopf", namespace="demo")   # its own user and RBAC
    with run("kopf", kubeconfig, namespace="demo"):                     # a process; in_process=True: a thread
        ...

    runner.py       one API to start and stop each controller (and what its limits default to)
    rbac.py         each controller's ClusterRole and bindings, and why each rule is there
    kopf_foo.py     the controller written with kopf (`python -m k8slab.operators.kopf_foo`)
    story.py        the scripted Foo story, and the snapshot every controller must reach
    observe.py      what a controller did, from outside: its requests in the audit log, its Foos' timeline
    assets/crfoo/   the controller-runtime reconciler in Go (built by k8slab/lab/goprograms.py);
                    operator.go: the operator's patterns (finalizer, conditions), on with --external-dir

`run(name, ..., external_dir=DIR)` runs the operator of notebook 12 instead, in k8slab,
controller-runtime or kopf (OPERATORS): notebook 14 makes each of them fail on purpose.

The Go sample-controller is upstream's, unchanged (`k8s.io/sample-controller`
v0.37.1), built the same way.
"""

from k8slab.operators.rbac import install_rbac, kubeconfig_for, user_name
from k8slab.operators.runner import CONTROLLERS, OPERATORS, Running, run

__all__ = ["CONTROLLERS", "OPERATORS", "Running", "install_rbac", "kubeconfig_for", "run", "user_name"]
