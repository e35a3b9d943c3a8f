"""Every error k8slab raises, in one tree.

A k8slab error says what was wrong, where, and what to do about it. It never
carries tokens, keys or certificate data: messages name files and fields, never
their secret contents. Only leaves are raised; a branch (`K8sLabError`,
`LabError`, `ConfigError`) is for catching a whole family, and only the CLI
catches the root, to print any k8slab error.

    K8sLabError
    ├── UsageError               a bad argument or option (CLI or Python API)
    ├── LabError                 the lab control plane
    │   ├── ToolchainMissing     no Go and no ready binaries
    │   ├── BuildFailed          a `go` command failed (names the command and its log)
    │   ├── BinaryBroken         a cached or supplied binary does not run
    │   ├── PortInUse            a port the lab wants is taken
    │   ├── LabNotRunning        `down`, `status`, ... with no lab
    │   ├── StartupFailed        a component did not become ready (names its log)
    │   ├── EtcdFailed           the lab's etcd answered a request with an error
    │   └── AuditLogOff          the lab runs without the audit log that was asked for
    ├── ConfigError              kubeconfig and rest config
    │   ├── KubeconfigNotFound
    │   ├── KubeconfigInvalid    not YAML, or not a kubeconfig
    │   ├── ContextNotFound      unknown context, or a context naming a missing user/cluster
    │   ├── NotInCluster         in-cluster config outside a Pod (rest.ErrNotInCluster)
    │   ├── CredentialsUnreadable  a token, certificate or key file the config names
    │   └── ExecPluginFailed     an exec credential plugin is missing, fails, or answers nonsense
    ├── ServerUnreachable        connection refused, DNS, TLS handshake failures
    ├── ConditionTimeout         something waited for (a namespace ready, a CRD served) did not happen in time
    ├── APIError                 the API server answered with a failure Status; an
    │   │                        unlisted code (503, 504, ...) stays APIError itself
    │   ├── BadRequest           400
    │   ├── Unauthorized         401
    │   ├── Forbidden            403
    │   ├── NotFound             404 (listers raise it too)
    │   ├── Conflict             409, a stale resourceVersion
    │   │   └── AlreadyExists    409, reason AlreadyExists
    │   ├── Gone                 410, resource version too old (Expired)
    │   ├── Invalid              422
    │   ├── TooManyRequests      429
    │   └── InternalError        500 (also an undecodable watch line)
    ├── VeryShortWatch           a watch closed within a second with no event: the reflector relists
    ├── FIFOClosed               `pop` on a closed, empty queue: the informer's loop ends
    ├── CacheNotSynced           informer caches did not sync before a stop or a timeout
    ├── CRDNotEstablished        a CustomResourceDefinition the server does not serve in time
    ├── ResourceNotOwned         an object of that name exists, controlled by someone else
    └── LeaseNotRenewed          a leader that has not renewed for longer than it may

`APIError.from_status(code, status_dict)` picks the right class, as client-go's
`k8s.io/apimachinery/pkg/api/errors` does with `IsNotFound`, `IsConflict`, ...;
`new_not_found(resource, name)`, `new_conflict(...)`, ... build the error (and
its `Status` body, `new_status`) the API server would answer, as that package's
`NewNotFound`, `NewConflict`, ... do: the fakes and the listers use them.
`Requeue` (cache/delta_fifo.py) is no error: it is control flow, and not in the tree.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "APIError", "AlreadyExists", "AuditLogOff", "BadRequest", "BinaryBroken", "BuildFailed", "CRDNotEstablished",
    "CacheNotSynced", "ConditionTimeout", "ConfigError", "Conflict", "ContextNotFound", "CredentialsUnreadable",
    "EtcdFailed", "ExecPluginFailed", "FIFOClosed", "Forbidden", "Gone", "InternalError", "Invalid",
    "K8sLabError", "KubeconfigInvalid", "KubeconfigNotFound", "LabError", "LabNotRunning",
    "LeaseNotRenewed", "NotFound", "NotInCluster", "PortInUse", "ResourceNotOwned",
    "ServerUnreachable", "StartupFailed", "TooManyRequests", "ToolchainMissing", "Unauthorized",
    "UsageError", "VeryShortWatch", "new_already_exists", "new_conflict", "new_internal_error",
    "new_not_found", "new_resource_expired", "new_status", "new_too_many_requests",
    "undecodable_watch_status",
]


class K8sLabError(Exception):
    """The root of every error k8slab raises on purpose."""


class UsageError(K8sLabError):
    """A bad argument: an unknown option, a value out of range, a wrong type."""


# -- the lab -------------------------------------------------------------------


class LabError(K8sLabError):
    """Something about the lab control plane."""


class ToolchainMissing(LabError):
    """Binaries must be built, and there is no Go to build them with."""


class BuildFailed(LabError):
    """A build command failed. `command` is what ran, `log` where its output is."""

    def __init__(self, message: str, *, command: str = "", log: str = "") -> None:
        super().__init__(message)
        self.command = command
        self.log = log


class BinaryBroken(LabError):
    """A binary exists but does not run (truncated, corrupt, wrong version)."""


class PortInUse(LabError):
    """A port the lab was asked to use is already taken."""


class LabNotRunning(LabError):
    """The command needs a running lab, and there is none."""


class StartupFailed(LabError):
    """A component did not start or did not become ready in time."""

    def __init__(self, message: str, *, log: str = "") -> None:
        super().__init__(message)
        self.log = log


class EtcdFailed(LabError):
    """The lab's etcd answered (a revision, a compaction) with an error."""


class AuditLogOff(LabError):
    """The audit log was asked for (`up(audit=True)`, `audit_log()`), and the lab runs without it."""


# -- kubeconfig / rest config --------------------------------------------------


class ConfigError(K8sLabError):
    """A kubeconfig or client configuration problem."""


class KubeconfigNotFound(ConfigError):
    """A kubeconfig path that does not exist."""


class KubeconfigInvalid(ConfigError):
    """A file that is not valid YAML, or not shaped like a kubeconfig."""


class ContextNotFound(ConfigError):
    """An unknown context, or one that names a user or cluster that is not defined."""


class NotInCluster(ConfigError):
    """In-cluster config asked for outside a Pod (client-go's `rest.ErrNotInCluster`)."""


class CredentialsUnreadable(ConfigError):
    """A token, certificate or key file that the configuration names cannot be read."""


class ExecPluginFailed(ConfigError):
    """An exec credential plugin could not run, exited non-zero, or printed no usable ExecCredential."""


# -- talking to the server -----------------------------------------------------


class ServerUnreachable(K8sLabError):
    """No HTTP answer: connection refused, name not resolved, TLS handshake failed.

    `connection_refused` is True when nothing listened at the address (the
    API server down or restarting): the one unreachable case in which a
    reflector re-watches without relisting (client-go's `utilnet.IsConnectionRefused`).
    """

    def __init__(self, message: str, *, connection_refused: bool = False) -> None:
        super().__init__(message)
        self.connection_refused = connection_refused


class ConditionTimeout(K8sLabError):
    """A condition k8slab waited for did not come true in time (the message names it)."""


class APIError(K8sLabError):
    """The API server answered with a failure `Status`.

    `code` is the HTTP status, `reason` the Status reason (`NotFound`,
    `Conflict`, ...), `status` the decoded Status object (a dict, may be empty).
    """

    code: int = 0

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        reason: str = "",
        status: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.reason = reason
        self.status = status or {}

    @staticmethod
    def from_status(code: int, status: dict[str, Any] | None, context: str = "") -> "APIError":
        """Build the matching subclass from an HTTP code and a decoded Status."""
        status = status or {}
        reason = str(status.get("reason") or "")
        message = str(status.get("message") or f"HTTP {code}")
        cls: type[APIError] = _BY_CODE.get(code, APIError)
        if code == 409 and reason == "AlreadyExists":
            cls = AlreadyExists
        text = f"{context}: {message}" if context else message
        hint = _HINTS.get(cls)
        if cls is Forbidden and " cannot " not in message:
            hint = None  # refused by admission (a missing ServiceAccount, a quota...), not by RBAC
        if hint:
            text = f"{text} ({hint})"
        return cls(text, code=code, reason=reason, status=status)

    @staticmethod
    def from_body(code: int, body: bytes | str | None, context: str = "") -> "APIError":
        """`from_status` for an answer's raw body: a Status in JSON, or the first 200 characters of other text."""
        if isinstance(body, str):
            body = body.encode()
        try:
            status = json.loads(body or b"{}")
        except ValueError:
            status = {"message": (body or b"").decode("utf-8", "replace").strip()[:200] or f"HTTP {code}"}
        return APIError.from_status(code, status if isinstance(status, dict) else {}, context)


# -- building failures as the API server does (apimachinery pkg/api/errors/errors.go) ----


def new_status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """A failure `metav1.Status`, as a dict: the body of every error answer and ERROR watch event."""
    status: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                              "message": message, "reason": reason, "code": code}
    if details:
        status["details"] = details
    return status


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource  # schema.GroupResource.String()


def _error(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> "APIError":
    return APIError.from_status(code, new_status(code, reason, message, details))


def new_not_found(resource: str, name: str, group: str = "") -> "NotFound":
    """apimachinery's `NewNotFound(GroupResource, name)`: 404, `<resource> "<name>" not found`."""
    details = {"group": group, "kind": resource, "name": name} if group else {"kind": resource, "name": name}
    return _error(404, "NotFound", f'{_qualified(resource, group)} "{name}" not found', details)  # type: ignore[return-value]


def new_already_exists(resource: str, name: str, group: str = "") -> "AlreadyExists":
    """`NewAlreadyExists`: 409 with reason AlreadyExists."""
    details = {"group": group, "kind": resource, "name": name} if group else {"kind": resource, "name": name}
    return _error(409, "AlreadyExists", f'{_qualified(resource, group)} "{name}" already exists', details)  # type: ignore[return-value]


def new_conflict(resource: str, name: str, why: str, group: str = "") -> "Conflict":
    """`NewConflict`: 409 with reason Conflict (a stale resourceVersion, say `why`)."""
    details = {"group": group, "kind": resource, "name": name} if group else {"kind": resource, "name": name}
    message = f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {why}'
    return _error(409, "Conflict", message, details)  # type: ignore[return-value]


def new_resource_expired(message: str) -> "Gone":
    """`NewResourceExpired`: 410 with reason Expired (a compacted resourceVersion or continue token)."""
    return _error(410, "Expired", message)  # type: ignore[return-value]


def new_too_many_requests(message: str, retry_after_seconds: int = 0) -> "TooManyRequests":
    """`NewTooManyRequests`: 429, with the seconds to wait in the details."""
    return _error(429, "TooManyRequests", message, {"retryAfterSeconds": retry_after_seconds})  # type: ignore[return-value]


def new_internal_error(why: str) -> "InternalError":
    """`NewInternalError`: 500 with reason InternalError."""
    return _error(500, "InternalError", f"Internal error occurred: {why}", {"causes": [{"message": why}]})  # type: ignore[return-value]


def undecodable_watch_status(why: str) -> dict[str, Any]:
    """The Status client-go's `StreamWatcher` reports for a watch line it cannot decode.

    `why` says what was wrong (a kind and a position), never the line itself.
    """
    return new_status(500, "InternalError", f"unable to decode an event from the watch stream: {why}")


# One class per failure a caller tells apart (apimachinery's IsBadRequest, IsNotFound, ...), by code.
class BadRequest(APIError): code = 400
class Unauthorized(APIError): code = 401
class Forbidden(APIError): code = 403
class NotFound(APIError): code = 404
class Conflict(APIError): code = 409
class AlreadyExists(Conflict): code = 409
class Gone(APIError): code = 410
class Invalid(APIError): code = 422
class TooManyRequests(APIError): code = 429
class InternalError(APIError): code = 500


# -- the cache, the controller, leader election -------------------------------


class VeryShortWatch(K8sLabError):
    """A watch that closed within a second with no event; the reflector treats it as a failure."""


class FIFOClosed(K8sLabError):
    """`pop` on a closed, empty queue (client-go's ErrFIFOClosed)."""


class CacheNotSynced(K8sLabError):
    """Informer caches did not sync before a stop or a timeout."""


class CRDNotEstablished(K8sLabError):
    """A CustomResourceDefinition that the API server does not serve in time."""


class ResourceNotOwned(K8sLabError):
    """An object of the name a controller wants exists, controlled by someone else."""


class LeaseNotRenewed(K8sLabError):
    """A leader that has failed to renew its lease for longer than it may (a health check)."""


_BY_CODE: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
    500: InternalError,
}

_HINTS: dict[type[APIError], str] = {
    Unauthorized: "the server did not accept these credentials: check the kubeconfig's user",
    Forbidden: "RBAC denies it: grant the verb with a Role/ClusterRole and a binding",
    Conflict: "the object changed since it was read: get it again and retry the update",
    Gone: "that resource version was compacted away: list again to get a fresh one",
}
