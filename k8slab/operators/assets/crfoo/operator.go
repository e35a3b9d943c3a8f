// The operator patterns of k8slab/samplecontroller/operator.py (notebook 12), written with
// controller-runtime's helpers; on with --external-dir DIR (notebook 14):
//
//	finalizer           controllerutil.AddFinalizer / RemoveFinalizer / ContainsFinalizer, then r.Update
//	external state      one file per Foo in DIR, "<namespace>.<name>" holding its replicas: what
//	                    garbage collection cannot reach (the Python operator's DirectoryRegistry
//	                    reads and writes the same files)
//	observedGeneration  the generation this sync acted on, in status.observedGeneration
//	conditions          an Available condition, set with apimachinery's meta.SetStatusCondition
//	                    (lastTransitionTime moves only when the status flips)
//
// The branches and their order are operator.py's, so the three frameworks can be compared.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// finalizer is the Python operator's (operator.py FINALIZER): the same Foo, the same promise.
const finalizer = "samplecontroller.k8s.io/cleanup"

// guardDeletion runs before the sync: done is true when the Foo needs nothing more this time
// (it was finalized, or it has just been given the finalizer, whose update brings it back).
func (r *FooReconciler) guardDeletion(ctx context.Context, foo *Foo) (done bool, err error) {
	if !foo.DeletionTimestamp.IsZero() {
		// Being deleted: clean up outside the cluster, then let go. An error requeues with
		// backoff, and the Foo waits for us meanwhile: that is what the finalizer is for.
		if controllerutil.ContainsFinalizer(foo, finalizer) {
			if err := r.deregister(foo); err != nil {
				return true, err
			}
			controllerutil.RemoveFinalizer(foo, finalizer)
			if err := r.Update(ctx, foo, client.FieldOwner(fieldManager)); err != nil {
				return true, err
			}
			r.Recorder.Eventf(foo, nil, corev1.EventTypeNormal, "Finalized", "Cleanup", "external record removed")
		}
		return true, nil
	}
	if controllerutil.AddFinalizer(foo, finalizer) {
		// First sight: claim the right to clean up before anything exists outside.
		return true, r.Update(ctx, foo, client.FieldOwner(fieldManager))
	}
	return false, nil
}

// record is the Foo's file in the external directory.
func (r *FooReconciler) record(foo *Foo) string {
	return filepath.Join(r.ExternalDir, foo.Namespace+"."+foo.Name)
}

// register writes the Foo's record (a rename, so a reader never sees half a file).
func (r *FooReconciler) register(foo *Foo) error {
	replicas := int32(0)
	if foo.Spec.Replicas != nil {
		replicas = *foo.Spec.Replicas
	}
	tmp := r.record(foo) + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(int(replicas))), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, r.record(foo))
}

// deregister removes the Foo's record; one already gone is fine.
func (r *FooReconciler) deregister(foo *Foo) error {
	if err := os.Remove(r.record(foo)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// setOperatorStatus adds what operator.py's update_foo_status adds to availableReplicas.
func setOperatorStatus(foo *Foo, deployment *appsv1.Deployment) {
	wanted := int32(0)
	if foo.Spec.Replicas != nil {
		wanted = *foo.Spec.Replicas
	}
	available := deployment.Status.AvailableReplicas
	// Available only once the Deployment controller has seen the Deployment's latest spec.
	ok := available >= wanted && deployment.Status.ObservedGeneration >= deployment.Generation
	condition := metav1.Condition{
		Type:               "Available",
		Status:             metav1.ConditionFalse,
		Reason:             "ReplicasUnavailable",
		Message:            fmt.Sprintf("%d of %d replicas available", available, wanted),
		ObservedGeneration: foo.Generation,
	}
	if ok {
		condition.Status, condition.Reason = metav1.ConditionTrue, "MinimumReplicasAvailable"
	}
	meta.SetStatusCondition(&foo.Status.Conditions, condition)
	foo.Status.ObservedGeneration = foo.Generation
}
