"""The client chain, one module per hop, as client-go builds it:

    kubeconfig.py    files -> merged Kubeconfig -> RestConfig   (tools/clientcmd)
    exec_credential.py   exec credential plugins: a command hands out a token or a certificate
                     (plugin/pkg/client/auth/exec, pkg/apis/clientauthentication)
    rest_config.py   RestConfig -> kubernetes.client.Configuration   (rest/config.go)
    flowcontrol.py   QPS/Burst token bucket   (util/flowcontrol)
    rest_client.py   RESTClient and Request, over ApiClient   (rest/client.go, rest/request.go)
    clientset.py     Clientset, typed clients, discovery   (kubernetes/clientset.go, discovery/)
    dynamic.py       DynamicClient, RESTMapper from discovery   (dynamic/simple.go, restmapper/)
    trace.py         every HTTP request as a table   (kubectl -v=6)
    testing.py       a mock transport for tests without a server

Only this package and the lab talk to the `kubernetes` client (cache/listwatch.py goes
through the chain's RESTClient); an import-linter contract in pyproject.toml checks it.
"""

from k8slab.chain.clientset import Clientset, DiscoveryClient, new_for_config, retry_on_conflict
from k8slab.chain.dynamic import DeferredDiscoveryRESTMapper, DynamicClient, DynamicResourceClient, new_discovery_rest_mapper
from k8slab.chain.exec_credential import ExecConfig
from k8slab.chain.flowcontrol import DEFAULT_BURST, DEFAULT_QPS, TokenBucketRateLimiter, new_token_bucket_rate_limiter
from k8slab.chain.kubeconfig import Kubeconfig, build_config_from_flags, default_kubeconfig_paths, load_kubeconfig
from k8slab.chain.rest_client import RESTClient, Request, Result, ThrottledApiClient, WatchEvent, Watcher, api_client_for
from k8slab.chain.rest_config import RestConfig, TLSClientConfig, in_cluster_config
from k8slab.chain.trace import Trace, trace

__all__ = ["Clientset", "DEFAULT_BURST", "DEFAULT_QPS", "DeferredDiscoveryRESTMapper", "DiscoveryClient",
           "DynamicClient", "DynamicResourceClient", "ExecConfig", "Kubeconfig", "RESTClient",
           "Request", "RestConfig", "Result", "TLSClientConfig", "ThrottledApiClient",
           "TokenBucketRateLimiter", "Trace", "WatchEvent", "Watcher", "api_client_for",
           "build_config_from_flags", "default_kubeconfig_paths", "in_cluster_config", "load_kubeconfig",
           "new_discovery_rest_mapper", "new_for_config", "new_token_bucket_rate_limiter", "retry_on_conflict", "trace"]
