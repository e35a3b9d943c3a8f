// Command informer_probe is k8slab's witness for its differential test: a client-go
// v0.37.2 SharedInformerFactory informer for the ConfigMaps of one namespace that
// prints every handler call as one JSON line on stdout:
//
//	{"op":"add","key":"ns/a","rv":"12","initial":true}
//	{"op":"update","key":"ns/a","rv":"14","old_rv":"12"}
//	{"op":"delete","key":"ns/a","rv":"14","tombstone":true}
//	{"op":"synced"}                          once WaitForCacheSync returned
//	{"op":"cache","cache":{"ns/a":"14"}}     the store's keys and RVs, for each "cache" line read on stdin
//
// It exits when stdin closes. The informer is built as any client-go program
// builds one, with client-go's default feature gates.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
)

type call struct {
	Op        string            `json:"op"`
	Key       string            `json:"key,omitempty"`
	RV        string            `json:"rv,omitempty"`
	OldRV     string            `json:"old_rv,omitempty"`
	Initial   bool              `json:"initial,omitempty"`
	Tombstone bool              `json:"tombstone,omitempty"`
	Cache     map[string]string `json:"cache,omitempty"`
}

func main() {
	kubeconfig := flag.String("kubeconfig", "", "the kubeconfig to connect with")
	namespace := flag.String("namespace", "default", "the namespace whose ConfigMaps to inform about")
	flag.Parse()
	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "informer_probe:", err)
		os.Exit(2)
	}
	config.QPS, config.Burst = 50, 100
	factory := informers.NewSharedInformerFactoryWithOptions(
		kubernetes.NewForConfigOrDie(config), 0, informers.WithNamespace(*namespace))
	informer := factory.Core().V1().ConfigMaps().Informer()

	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	emit := func(c call) {
		line, _ := json.Marshal(c)
		mu.Lock()
		defer mu.Unlock()
		out.Write(append(line, '\n'))
		out.Flush()
	}
	key := func(obj any) string {
		k, _ := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
		return k
	}
	rv := func(obj any) string {
		if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tombstone.Obj
		}
		if cm, ok := obj.(*corev1.ConfigMap); ok {
			return cm.ResourceVersion
		}
		return ""
	}
	if _, err := informer.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			emit(call{Op: "add", Key: key(obj), RV: rv(obj), Initial: initial})
		},
		UpdateFunc: func(old, new any) {
			emit(call{Op: "update", Key: key(new), RV: rv(new), OldRV: rv(old)})
		},
		DeleteFunc: func(obj any) {
			_, tombstone := obj.(cache.DeletedFinalStateUnknown)
			emit(call{Op: "delete", Key: key(obj), RV: rv(obj), Tombstone: tombstone})
		},
	}); err != nil {
		fmt.Fprintln(os.Stderr, "informer_probe:", err)
		os.Exit(2)
	}

	stop := make(chan struct{})
	factory.Start(stop)
	factory.WaitForCacheSync(stop)
	emit(call{Op: "synced"})
	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		if lines.Text() == "cache" {
			cached := map[string]string{}
			for _, obj := range informer.GetStore().List() {
				cached[key(obj)] = rv(obj)
			}
			emit(call{Op: "cache", Cache: cached})
		}
	}
	close(stop)
	factory.Shutdown()
}
