// controller-runtime-foo: sample-controller's Foo behaviour, written with controller-runtime.
//
// k8slab builds this program (k8slab/lab/goprograms.py) in a wrapper module it generates in its
// cache, against sigs.k8s.io/controller-runtime v0.25 and client-go v0.37. The map to
// sample-controller (controller.go, main.go) and to k8slab's Python (k8slab/samplecontroller):
//
//	NewController + informers     ctrl.NewManager: one cache (informers) and a client reading from it
//	syncHandler(key)              Reconcile(ctx, req)
//	enqueueFoo (Foo handlers)     For(&Foo{})
//	handleObject (Deployments)    Owns(&appsv1.Deployment{}): the controller ref names the Foo to queue
//	lister Get                    r.Get: served from the manager's cache
//	AddRateLimited on error       return err: requeued with per-item backoff, 5 ms doubling to 1000 s
//	the 30 s informer resync      ctrl.Result{RequeueAfter: resync} after a successful sync
//	EventRecorder                 mgr.GetEventRecorder: events.k8s.io/v1 Events
//	leaderelection.RunOrDie       ctrl.Options{LeaderElection: true, ...}
//
// The reconcile does what syncHandler does, branch for branch (create the Deployment if missing,
// refuse one the Foo does not control with a Warning ErrResourceExists, update replicas, write
// status.availableReplicas, a Normal Synced event), so requests per Foo compare the frameworks,
// not two algorithms.
//
// With --external-dir DIR it also does what k8slab's operator (k8slab/samplecontroller/operator.py)
// adds: a finalizer that removes the Foo's record in DIR, observedGeneration and an Available
// condition (operator.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
)

const (
	controllerName = "controller-runtime-foo"
	// The reasons and messages are sample-controller's.
	successSynced         = "Synced"
	errResourceExists     = "ErrResourceExists"
	messageResourceExists = "Resource %q already exists and is not managed by Foo"
	messageResourceSynced = "Foo synced successfully"
	fieldManager          = controllerName
)

// FooReconciler converges one Foo and its Deployment per call.
//
// The markers below are what a kubebuilder project writes beside its reconciler: controller-gen's
// rbac generator (`make manifests`) turns them into the ClusterRole config/rbac/role.yaml. k8slab
// grants the same rules by hand (k8slab/operators/rbac.py; update foos is the operator's, for its
// finalizer; the Lease rules are leader election's, a role of their own in both).
//
// +kubebuilder:rbac:groups=samplecontroller.k8s.io,resources=foos,verbs=get;list;watch;update
// +kubebuilder:rbac:groups=samplecontroller.k8s.io,resources=foos/status,verbs=update
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;update
// +kubebuilder:rbac:groups=core,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
type FooReconciler struct {
	client.Client
	Recorder    recorder.EventRecorder
	Resync      time.Duration
	ExternalDir string // "": sample-controller's behaviour; else the operator's (operator.go)
}

// Reconcile is syncHandler: compare the Foo with its Deployment, converge, report.
func (r *FooReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := logf.FromContext(ctx)

	var foo Foo // our own copy: the cache-backed client deep-copies into it
	if err := r.Get(ctx, req.NamespacedName, &foo); err != nil {
		// Gone: nothing to do (its Deployments go by garbage collection). Other errors requeue.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if r.ExternalDir != "" {
		if done, err := r.guardDeletion(ctx, &foo); done || err != nil {
			return ctrl.Result{}, err
		}
	}
	name := foo.Spec.DeploymentName
	if name == "" {
		// Absorbed, as sample-controller does: retrying cannot help; the next change queues it again.
		log.Info("deployment name must be specified")
		return ctrl.Result{}, nil
	}

	var deployment appsv1.Deployment
	err := r.Get(ctx, types.NamespacedName{Namespace: foo.Namespace, Name: name}, &deployment)
	if apierrors.IsNotFound(err) {
		deployment = *newDeployment(&foo)
		err = r.Create(ctx, &deployment, client.FieldOwner(fieldManager))
	}
	if err != nil {
		return ctrl.Result{}, err // requeued with backoff
	}

	// Someone else's Deployment of that name: warn, and fail, so it is retried with backoff.
	if !metav1.IsControlledBy(&deployment, &foo) {
		msg := fmt.Sprintf(messageResourceExists, deployment.Name)
		r.Recorder.Eventf(&foo, nil, corev1.EventTypeWarning, errResourceExists, "Sync", msg)
		return ctrl.Result{}, errors.New(msg)
	}

	if foo.Spec.Replicas != nil && *foo.Spec.Replicas != *deployment.Spec.Replicas {
		log.V(1).Info("update deployment", "replicas", *foo.Spec.Replicas)
		deployment = *newDeployment(&foo)
		if err := r.Update(ctx, &deployment, client.FieldOwner(fieldManager)); err != nil {
			return ctrl.Result{}, err
		}
	}

	// The status subresource: the server keeps the stored spec whatever foo says.
	foo.Status.AvailableReplicas = deployment.Status.AvailableReplicas
	if r.ExternalDir != "" {
		setOperatorStatus(&foo, &deployment)
	}
	opts := &client.SubResourceUpdateOptions{UpdateOptions: client.UpdateOptions{FieldManager: fieldManager}}
	if err := r.Status().Update(ctx, &foo, opts); err != nil {
		return ctrl.Result{}, err // a Conflict (our cached Foo was stale) is retried too
	}
	r.Recorder.Eventf(&foo, nil, corev1.EventTypeNormal, successSynced, "Sync", messageResourceSynced)
	if r.ExternalDir != "" {
		if err := r.register(&foo); err != nil {
			return ctrl.Result{}, err
		}
	}
	// sample-controller's informers resync every 30 s and so sync every Foo again; here, ask for it.
	return ctrl.Result{RequeueAfter: r.Resync}, nil
}

// newDeployment is sample-controller's: the Deployment a Foo asks for, controlled by it.
func newDeployment(foo *Foo) *appsv1.Deployment {
	labels := map[string]string{"app": "nginx", "controller": foo.Name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name:            foo.Spec.DeploymentName,
			Namespace:       foo.Namespace,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(foo, GroupVersion.WithKind("Foo"))},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: foo.Spec.Replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "nginx:latest"}}},
			},
		},
	}
}

func main() {
	var (
		namespace, leNamespace, leID, externalDir string
		leaderElect                               bool
		qps                                       float64
		burst, workers                            int
		resync                                    time.Duration
	)
	// --kubeconfig is registered by controller-runtime's config package.
	flag.StringVar(&namespace, "namespace", "", "watch only this namespace (default: all)")
	flag.IntVar(&workers, "workers", 2, "concurrent reconciles (sample-controller runs 2 workers)")
	flag.Float64Var(&qps, "kube-api-qps", 0, "client QPS; 0 keeps controller-runtime's default (-1: no client-side limit)")
	flag.IntVar(&burst, "kube-api-burst", 0, "client burst (0: client-go's default, 10)")
	flag.DurationVar(&resync, "resync", 30*time.Second, "sync every Foo again this long after a successful sync")
	flag.BoolVar(&leaderElect, "leader-elect", false, "run the controller only while holding the Lease")
	flag.StringVar(&leNamespace, "leader-elect-resource-namespace", "", "the Lease's namespace (default: --namespace, else kube-system)")
	flag.StringVar(&leID, "leader-elect-resource-name", controllerName, "the Lease's name")
	flag.StringVar(&externalDir, "external-dir", "", "the operator's patterns: a finalizer cleaning up a record per Foo in this directory, observedGeneration, an Available condition")
	opts := zap.Options{}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	setupLog := ctrl.Log.WithName("setup")

	cfg := ctrl.GetConfigOrDie()
	if qps != 0 {
		cfg.QPS, cfg.Burst = float32(qps), burst
	}
	cfg.UserAgent = controllerName + "/k8slab"

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		setupLog.Error(err, "scheme")
		os.Exit(1)
	}
	if err := addKnownTypes(scheme); err != nil {
		setupLog.Error(err, "scheme")
		os.Exit(1)
	}

	options := ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		LeaderElection:                leaderElect,
		LeaderElectionID:              leID,
		LeaderElectionNamespace:       leNamespace,
		LeaderElectionReleaseOnCancel: true,
	}
	if namespace != "" {
		options.Cache = cache.Options{DefaultNamespaces: map[string]cache.Config{namespace: {}}}
		if leNamespace == "" {
			options.LeaderElectionNamespace = namespace
		}
	} else if leNamespace == "" {
		options.LeaderElectionNamespace = "kube-system"
	}
	if externalDir != "" {
		if err := os.MkdirAll(externalDir, 0o755); err != nil {
			setupLog.Error(err, "external directory")
			os.Exit(1)
		}
	}
	mgr, err := ctrl.NewManager(cfg, options)
	if err != nil {
		setupLog.Error(err, "unable to create the manager")
		os.Exit(1)
	}
	err = ctrl.NewControllerManagedBy(mgr).
		For(&Foo{}).
		Owns(&appsv1.Deployment{}).
		Named("foo").
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Complete(&FooReconciler{Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder(controllerName), Resync: resync,
			ExternalDir: externalDir})
	if err != nil {
		setupLog.Error(err, "unable to create the controller")
		os.Exit(1)
	}
	setupLog.Info("starting manager", "namespace", namespace, "leaderElect", leaderElect, "qps", cfg.QPS, "burst", cfg.Burst,
		"externalDir", externalDir)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "manager stopped with an error")
		os.Exit(1)
	}
}
