"""The RESTClient and the trace, over the mock transport: URLs, bodies, answers, errors, watches."""

from __future__ import annotations

import json
import os
import stat

import pytest
import urllib3
from kubernetes.client import ApiClient, V1ConfigMap

from k8slab.chain.rest_client import RESTClient, api_client_for
from k8slab.chain.rest_config import RestConfig, TLSClientConfig
from k8slab.chain.testing import MockTransport, mock_api_client
from k8slab.chain.trace import trace
from k8slab.errors import (
    AlreadyExists,
    APIError,
    Conflict,
    Forbidden,
    Gone,
    Invalid,
    NotFound,
    ServerUnreachable,
    Unauthorized,
    UsageError,
)


def ok(req):
    return 200, {"kind": "Status", "seen": req.path}


@pytest.fixture
def rest():
    return RESTClient(mock_api_client(ok))


@pytest.mark.parametrize(
    "build, url",
    [
        pytest.param(lambda r: r.get().namespace("ns").resource("Pods"), "/api/v1/namespaces/ns/pods", id="namespaced list, resource lower-cased"),
        pytest.param(lambda r: r.get().resource("pods"), "/api/v1/pods", id="all namespaces"),
        pytest.param(lambda r: r.get().namespace("ns").resource("pods").name("p").subresource("status"),
                     "/api/v1/namespaces/ns/pods/p/status", id="subresource"),
        pytest.param(lambda r: r.get().resource("nodes").name("n1"), "/api/v1/nodes/n1", id="cluster scoped"),
        pytest.param(lambda r: r.get().abs_path("/version"), "/version", id="absolute path"),
        pytest.param(lambda r: r.get().resource("pods").params(label_selector="a=b", limit=5, continue_="tok"),
                     "/api/v1/pods?continue=tok&labelSelector=a%3Db&limit=5", id="ListOptions camel-cased, sorted by key"),
        pytest.param(lambda r: r.get().resource("pods").params(watch=True, resource_version=None),
                     "/api/v1/pods?watch=true", id="booleans lower-case, None dropped"),
        pytest.param(lambda r: r.get().resource("pods").timeout(10), "/api/v1/pods?timeout=10s", id="timeout in seconds"),
        pytest.param(lambda r: r.get().resource("pods").timeout(0.25), "/api/v1/pods?timeout=250ms", id="timeout in milliseconds"),
    ],
)
def test_request_urls_are_laid_out_as_client_go_does(rest, build, url):
    assert build(rest).url() == url


def test_other_group_versions_live_under_apis():
    rest = RESTClient(mock_api_client(ok), group="apps", version="v1")
    assert rest.get().namespace("ns").resource("deployments").name("web").url() == "/apis/apps/v1/namespaces/ns/deployments/web"


@pytest.mark.parametrize(
    "build, message",
    [
        pytest.param(lambda r: r.get().namespace("a").namespace("b"), "namespace already set to 'a'", id="namespace set twice"),
        pytest.param(lambda r: r.get().namespace("a/b"), "invalid namespace 'a/b'", id="a slash in a segment"),
        pytest.param(lambda r: r.get().resource("pods").name(".."), "invalid name '..'", id="dot-dot"),
        pytest.param(lambda r: r.get().resource("pods").name(""), "name may not be empty", id="empty name"),
        pytest.param(lambda r: r.get().timeout(0), "timeout must be positive", id="zero timeout"),
        pytest.param(lambda r: r.patch("yaml"), "unknown patch type 'yaml'", id="unknown patch type"),
    ],
)
def test_bad_builder_input_raises_usage_error_at_once(rest, build, message):
    with pytest.raises(UsageError, match=message):
        build(rest)


def test_do_sends_what_was_built_and_decodes_the_answer():
    api = mock_api_client(lambda req: (201, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": req.body["data"]}))
    result = RESTClient(api).post().namespace("ns").resource("configmaps").body(V1ConfigMap(metadata={"name": "c"}, data={"k": "v"})).do()
    sent = api.rest_client.requests[0]
    assert (sent.method, sent.path, sent.headers["Content-Type"], sent.headers["Accept"]) == ("POST", "/api/v1/namespaces/ns/configmaps", "application/json", "application/json")
    assert sent.body == {"metadata": {"name": "c"}, "data": {"k": "v"}}  # a model is sent as its JSON
    assert result.status_code == 201
    assert result.json()["data"] == {"k": "v"}
    cm = result.into("V1ConfigMap")
    assert isinstance(cm, V1ConfigMap) and cm.data == {"k": "v"}
    assert json.loads(result.raw())["kind"] == "ConfigMap"


@pytest.mark.parametrize("patch_type, content_type", [
    ("json", "application/json-patch+json"),
    ("merge", "application/merge-patch+json"),
    ("strategic", "application/strategic-merge-patch+json"),
    ("apply", "application/apply-patch+yaml"),
])
def test_a_patch_says_its_type_in_the_content_type(patch_type, content_type):
    api = mock_api_client(ok)
    body = [{"op": "add", "path": "/x", "value": 1}] if patch_type == "json" else {"metadata": {"labels": {"a": "b"}}}
    RESTClient(api).patch(patch_type).namespace("ns").resource("pods").name("p").body(body).do()
    sent = api.rest_client.requests[0]
    assert (sent.method, sent.headers["Content-Type"], sent.body) == ("PATCH", content_type, body)


@pytest.mark.parametrize(
    "code, reason, error",
    [
        (400, "BadRequest", APIError),
        (401, "Unauthorized", Unauthorized),
        (403, "Forbidden", Forbidden),
        (404, "NotFound", NotFound),
        (409, "Conflict", Conflict),
        (409, "AlreadyExists", AlreadyExists),
        (410, "Expired", Gone),
        (422, "Invalid", Invalid),
        (500, "InternalError", APIError),
    ],
)
def test_a_failure_status_becomes_the_matching_k8slab_error(code, reason, error):
    status = {"kind": "Status", "status": "Failure", "reason": reason, "code": code, "message": f"it went {reason}"}
    rest = RESTClient(mock_api_client(lambda req: (code, status)))
    with pytest.raises(error) as info:
        rest.get().namespace("ns").resource("pods").name("p").do()
    assert info.value.code == code and info.value.reason == reason
    assert str(info.value).startswith(f"GET /api/v1/namespaces/ns/pods/p: it went {reason}")


def test_a_failure_without_a_status_body_still_says_what_came_back():
    rest = RESTClient(mock_api_client(lambda req: (503, b"upstream connect error\n", {"Content-Type": "text/plain"})))
    with pytest.raises(APIError, match="GET /api/v1/pods: upstream connect error") as info:
        rest.get().resource("pods").do()
    assert info.value.code == 503


def refused(req):
    raise urllib3.exceptions.MaxRetryError(None, req.path, urllib3.exceptions.NewConnectionError(None, "[Errno 111] Connection refused"))


def bad_certificate(req):
    raise urllib3.exceptions.MaxRetryError(None, req.path, urllib3.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"))


def too_slow(req):
    raise urllib3.exceptions.ReadTimeoutError(None, req.path, "Read timed out.")


@pytest.mark.parametrize("handler, words", [
    (refused, "connection refused"),
    (bad_certificate, "the TLS handshake failed"),
    (too_slow, "no answer in time"),
])
def test_no_http_answer_is_server_unreachable_naming_the_server(handler, words):
    rest = RESTClient(mock_api_client(handler))
    with pytest.raises(ServerUnreachable, match=f"GET /api/v1/pods: cannot reach the API server at https://mock.invalid: {words}"):
        rest.get().resource("pods").do()


def watch_body(*events):
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


def test_watch_adds_watch_true_and_decodes_one_event_per_line():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
    gone = {"kind": "Status", "code": 410, "reason": "Expired"}
    api = mock_api_client(lambda req: (200, watch_body({"type": "ADDED", "object": pod}, {"type": "DELETED", "object": pod},
                                                       {"type": "ERROR", "object": gone})))
    with RESTClient(api).get().namespace("ns").resource("pods").params(resource_version="7").watch(into="V1Pod") as w:
        events = list(w)
    assert api.rest_client.requests[0].query == {"resourceVersion": "7", "watch": "true"}
    assert [(e.type, type(e.object).__name__) for e in events] == [("ADDED", "V1Pod"), ("DELETED", "V1Pod"), ("ERROR", "dict")]
    assert events[0].object.metadata.name == "p" and events[2].object["code"] == 410
    assert w.stopped


def test_a_watch_line_that_does_not_decode_ends_the_watch_with_an_error_status():
    pod = {"type": "ADDED", "object": {"metadata": {"name": "p"}}}
    api = mock_api_client(lambda req: (200, watch_body(pod) + b"<html>s3cr3t</html>\n" + watch_body(pod)))
    with RESTClient(api).get().resource("pods").watch() as w:
        events = list(w)
    assert [e.type for e in events] == ["ADDED", "ERROR"]  # as client-go's StreamWatcher: report, then stop
    status = events[1].object
    assert {k: status[k] for k in ("kind", "apiVersion", "status", "code", "reason")} == {
        "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 500, "reason": "InternalError"}
    assert status["message"].startswith("unable to decode an event from the watch stream: Expecting value at char 0")
    assert "s3cr3t" not in status["message"] and w.stopped


def test_a_watch_cut_inside_its_last_line_just_ends():
    pod = {"type": "ADDED", "object": {"metadata": {"name": "p"}}}
    api = mock_api_client(lambda req: (200, watch_body(pod) + json.dumps(pod).encode()[:20]))
    assert [e.type for e in RESTClient(api).get().resource("pods").watch()] == ["ADDED"]
    whole = mock_api_client(lambda req: (200, watch_body(pod).rstrip(b"\n")))  # a complete last line still counts
    assert [e.type for e in RESTClient(whole).get().resource("pods").watch()] == ["ADDED"]


def test_stopping_a_watch_ends_the_iteration():
    api = mock_api_client(lambda req: (200, watch_body(*[{"type": "ADDED", "object": {"metadata": {"name": str(i)}}} for i in range(5)])))
    seen = []
    watcher = RESTClient(api).get().resource("pods").watch()
    for event in watcher:
        seen.append(event.object["metadata"]["name"])
        if len(seen) == 2:
            watcher.stop()
            break
    assert seen == ["0", "1"] and watcher.stopped


def test_stream_gives_the_open_body():
    api = mock_api_client(lambda req: (200, b"line 1\nline 2\n", {"Content-Type": "text/plain"}))
    body = RESTClient(api).get().namespace("ns").resource("pods").name("p").subresource("log").stream()
    assert body.read() == b"line 1\nline 2\n"


# -- the trace --------------------------------------------------------------------------------------


def test_the_trace_records_requests_and_redacts_the_authorization_header():
    api = mock_api_client(lambda req: (200, {"items": []}), token="s3cr3t-token")
    with trace() as t:
        with t.label("layer"):
            RESTClient(api).get().namespace("ns").resource("pods").params(limit=2, label_selector="b=c").do()
    assert api.rest_client.requests[0].headers["authorization"] == "Bearer s3cr3t-token"  # sent...
    (entry,) = t.entries
    assert (entry.label, entry.method, entry.path, entry.query, entry.status) == ("layer", "GET", "/api/v1/namespaces/ns/pods", "labelSelector=b=c&limit=2", 200)
    assert entry.headers["authorization"] == "REDACTED"  # ...never recorded
    assert entry.response_bytes == len(b'{"items": []}')
    assert "s3cr3t-token" not in repr(t.entries) + t.frame().to_string()


def test_the_trace_records_transport_errors_and_comes_off_when_closed():
    original = ApiClient.call_api
    with trace() as outer:
        with trace() as inner:
            with pytest.raises(ServerUnreachable):
                RESTClient(mock_api_client(refused)).get().resource("pods").do()
        RESTClient(mock_api_client(ok)).get().resource("pods").do()
    assert [(e.status, e.error) for e in outer] == [(None, "MaxRetryError"), (200, "")]
    assert len(inner) == 1
    assert ApiClient.call_api is original
    assert list(t.columns for t in [outer.frame()])[0].tolist()[:5] == ["label", "method", "path", "query", "status"]


# -- the rest config ---------------------------------------------------------------------------------


def test_the_configs_timeout_is_the_deadline_of_requests_that_set_none():
    api = api_client_for(RestConfig(host="https://mock.invalid", timeout=7.5))
    api.rest_client = MockTransport(ok)
    RESTClient(api).get().resource("pods").do()
    RESTClient(api).get().resource("pods").timeout(2).do()  # a request's own timeout wins
    unlimited = mock_api_client(ok)  # Timeout 0: no deadline, as before
    RESTClient(unlimited).get().resource("pods").do()
    assert [r.timeout for r in api.rest_client.requests + unlimited.rest_client.requests] == [7.5, 2.0, None]


def test_to_configuration_writes_certificate_data_to_private_files():
    cfg = RestConfig(host="https://h:6443/", tls=TLSClientConfig(ca_data=b"CA", cert_data=b"CERT", key_data=b"KEY", server_name="api"))
    conf = cfg.to_configuration()
    assert conf.host == "https://h:6443" and conf.verify_ssl and conf.tls_server_name == "api"
    for path, content in ((conf.ssl_ca_cert, b"CA"), (conf.cert_file, b"CERT"), (conf.key_file, b"KEY")):
        assert open(path, "rb").read() == content
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_to_configuration_carries_tokens_basic_auth_and_insecure():
    assert RestConfig(host="h", bearer_token="t").to_configuration().api_key["BearerToken"] == "Bearer t"
    basic = RestConfig(host="h", username="u", password="p").to_configuration()
    assert basic.api_key["BearerToken"].startswith("Basic ")
    assert RestConfig(host="h", tls=TLSClientConfig(insecure=True)).to_configuration().verify_ssl is False


def test_fields_and_repr_show_no_secret():
    cfg = RestConfig(host="https://h", bearer_token="t0ken", password="pw", username="u",
                     tls=TLSClientConfig(cert_data=b"CERT", key_data=b"PRIVATE-KEY-BYTES"))
    shown = repr(cfg) + cfg.fields().to_string()
    assert not any(s in shown for s in ("t0ken", "PRIVATE-KEY-BYTES", "pw "))
    fields = cfg.fields().set_index("rest.Config")
    assert fields.loc["BearerToken", "value"] == "REDACTED"
    assert fields.loc["TLSClientConfig.KeyData", "value"] == "DATA+OMITTED"
    assert fields.loc["QPS", "Configuration"].startswith("(none")


def test_an_answer_that_does_not_fit_the_model_says_so_and_points_to_json():
    result = RESTClient(mock_api_client(lambda req: (200, {"kind": "Deployment", "spec": "not an object"}))).get().do()
    with pytest.raises(UsageError, match=r"the answer does not decode into V1Deployment \(.*V1DeploymentSpec\); use .json\(\)"):
        result.into("V1Deployment")
    assert result.json()["spec"] == "not an object"
