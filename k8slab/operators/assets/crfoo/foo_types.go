// The Foo type, written by hand: what kubebuilder scaffolds in api/v1alpha1/foo_types.go and
// what controller-gen's object generator writes into zz_generated.deepcopy.go.
//
// The fields and JSON names are sample-controller's (pkg/apis/samplecontroller/v1alpha1/types.go),
// so this program reads and writes the same Foos as the Go sample-controller and k8slab's.
//
// The +kubebuilder markers are the ones controller-gen reads: `crd` turns the types and their
// markers into the CustomResourceDefinition (k8slab writes it by hand:
// k8slab/samplecontroller/foo-crd.yaml, which says the same), `object` writes the DeepCopy
// methods below (zz_generated.deepcopy.go in a kubebuilder project).
//
// +groupName=samplecontroller.k8s.io
package main

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the API group and version of Foo.
var GroupVersion = schema.GroupVersion{Group: "samplecontroller.k8s.io", Version: "v1alpha1"}

// Foo asks for a Deployment named spec.deploymentName with spec.replicas Pods.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Deployment",type=string,JSONPath=`.spec.deploymentName`
// +kubebuilder:printcolumn:name="Desired",type=integer,JSONPath=`.spec.replicas`
// +kubebuilder:printcolumn:name="Available",type=integer,JSONPath=`.status.availableReplicas`
type Foo struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   FooSpec   `json:"spec"`
	Status FooStatus `json:"status"`
}

// FooSpec is the desired state.
type FooSpec struct {
	DeploymentName string `json:"deploymentName"`
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10
	Replicas *int32 `json:"replicas"`
}

// FooStatus is what the controller last saw: no omitempty on availableReplicas, so 0 is written
// too, as in sample-controller. The other two are the operator's (operator.go), omitted without it.
type FooStatus struct {
	AvailableReplicas  int32 `json:"availableReplicas"`
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// FooList is a list of Foos, as the API server returns them.
//
// +kubebuilder:object:root=true
type FooList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []Foo `json:"items"`
}

// addKnownTypes registers Foo and FooList with a scheme: the scheme is how the client and the
// cache map a Go type to its group, version and kind (and so to its REST path).
func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion, &Foo{}, &FooList{})
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}

// Deep copies: the cache hands out copies, and every runtime.Object must be able to make one.

func (in *FooSpec) DeepCopyInto(out *FooSpec) {
	*out = *in
	if in.Replicas != nil {
		out.Replicas = new(int32)
		*out.Replicas = *in.Replicas
	}
}

func (in *FooStatus) DeepCopyInto(out *FooStatus) {
	*out = *in
	if in.Conditions != nil {
		out.Conditions = make([]metav1.Condition, len(in.Conditions))
		for i := range in.Conditions {
			in.Conditions[i].DeepCopyInto(&out.Conditions[i])
		}
	}
}

func (in *Foo) DeepCopyInto(out *Foo) {
	*out = *in
	in.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	in.Spec.DeepCopyInto(&out.Spec)
	in.Status.DeepCopyInto(&out.Status)
}

func (in *Foo) DeepCopy() *Foo {
	if in == nil {
		return nil
	}
	out := new(Foo)
	in.DeepCopyInto(out)
	return out
}

func (in *Foo) DeepCopyObject() runtime.Object { return in.DeepCopy() }

func (in *FooList) DeepCopyInto(out *FooList) {
	*out = *in
	in.ListMeta.DeepCopyInto(&out.ListMeta)
	if in.Items != nil {
		out.Items = make([]Foo, len(in.Items))
		for i := range in.Items {
			in.Items[i].DeepCopyInto(&out.Items[i])
		}
	}
}

func (in *FooList) DeepCopyObject() runtime.Object {
	if in == nil {
		return nil
	}
	out := new(FooList)
	in.DeepCopyInto(out)
	return out
}
