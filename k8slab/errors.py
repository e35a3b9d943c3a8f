"""Every error k8slab raises, in one tree.

A k8slab error says what was wrong, where, and what to do about it. It never
carries tokens, keys or certificate data: messages name files and fields, never
their secret contents.

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
    │   └── ContextNotFound      unknown context, or a context naming a missing user/cluster
    ├── ServerUnreachable        connection refused, DNS, TLS handshake failures
    └── APIError                 the API server answered with a failure Status
        ├── BadRequest           400
        ├── Unauthorized         401
        ├── Forbidden            403
        ├── NotFound             404 (listers raise it too)
        ├── AlreadyExists        409, reason AlreadyExists
        ├── Conflict             409, a stale resourceVersion
        ├── Gone                 410, resource version too old (Expired)
        ├── Invalid              422
        └── TooManyRequests      429

`APIError.from_status(code, status_dict)` picks the right class, as client-go's
`k8s.io/apimachinery/pkg/api/errors` does with `IsNotFound`, `IsConflict`, ...
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIError",
    "AlreadyExists",
    "AuditLogOff",
    "BadRequest",
    "BinaryBroken",
    "BuildFailed",
    "ConfigError",
    "Conflict",
    "ContextNotFound",
    "EtcdFailed",
    "Forbidden",
    "Gone",
    "Invalid",
    "K8sLabError",
    "KubeconfigInvalid",
    "KubeconfigNotFound",
    "LabError",
    "LabNotRunning",
    "NotFound",
    "PortInUse",
    "ServerUnreachable",
    "StartupFailed",
    "TooManyRequests",
    "ToolchainMissing",
    "Unauthorized",
    "UsageError",
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


# -- talking to the server -----------------------------------------------------


class ServerUnreachable(K8sLabError):
    """No HTTP answer: connection refused, name not resolved, TLS handshake failed."""


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


def undecodable_watch_status(why: str) -> dict[str, Any]:
    """The Status client-go's `StreamWatcher` reports for a watch line it cannot decode.

    `why` says what was wrong (a kind and a position), never the line itself.
    """
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 500, "reason": "InternalError",
            "message": f"unable to decode an event from the watch stream: {why}"}


class BadRequest(APIError):
    code = 400


class Unauthorized(APIError):
    code = 401


class Forbidden(APIError):
    code = 403


class NotFound(APIError):
    code = 404


class Conflict(APIError):
    code = 409


class AlreadyExists(Conflict):
    code = 409


class Gone(APIError):
    code = 410


class Invalid(APIError):
    code = 422


class TooManyRequests(APIError):
    code = 429


_BY_CODE: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
}

_HINTS: dict[type[APIError], str] = {
    Unauthorized: "the server did not accept these credentials: check the kubeconfig's user",
    Forbidden: "RBAC denies it: grant the verb with a Role/ClusterRole and a binding",
    Conflict: "the object changed since it was read: get it again and retry the update",
    Gone: "that resource version was compacted away: list again to get a fresh one",
}
