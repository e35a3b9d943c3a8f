"""The API server's audit log: every request, from any client, as a table.

    lab = Lab(audit=True).up()                 # or: k8slab up --audit
    lab.audit_log(user_agent="kubectl")        # a pandas DataFrame, one row per request

kube-apiserver writes an audit event for each request it serves, at the
levels a policy asks for (`k8s.io/apiserver/pkg/apis/audit/v1` `Policy`,
`Event`). The lab's policy asks for `Metadata` on everything: who (user,
groups, user agent), what (verb, resource, namespace, name, URI), the answer
(response code) and when (received, finished), never a request or response
body, so a Secret's data never reaches the file. The `RequestReceived` stage
is left out; a request then has one `ResponseComplete` event (a watch also a
`ResponseStarted` one).

The log is JSON lines in `<state dir>/audit/audit.log` (mode 0600), rotated
by the API server at 50 MB, with 4 older files kept beside it
(`audit-<time>.log`); the reader reads them all, oldest first.

An audit log is off by default, and chosen when the lab starts: `up` does not
restart a running lab to change it. `Lab(audit=True).up()` on a lab that runs
without it raises AuditLogOff, and says the two ways on:
`k8slab down` then `k8slab up --audit`, or `lab.enable_audit()`, which
restarts kube-apiserver alone with the audit flags (the data stays in etcd;
clients reconnect, as after any apiserver restart).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["COLUMNS", "POLICY", "apiserver_flags", "log_files", "read_audit_log", "write_policy"]

POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [{"level": "Metadata"}],
}

MAX_SIZE_MB = 50
MAX_BACKUPS = 4

COLUMNS = ["received", "latency_ms", "user", "user_agent", "verb", "api_group", "resource", "subresource",
           "namespace", "name", "code", "uri", "stage", "audit_id"]


def how_to_turn_on(lab: str) -> str:
    return (f"`k8slab down --lab {lab}` then `k8slab up --lab {lab} --audit` (Lab(audit=True).up()) starts it "
            "with one, or `enable_audit()` turns it on, restarting kube-apiserver alone")


def write_policy(directory: Path) -> Path:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / "policy.yaml"
    path.write_text(yaml.safe_dump(POLICY, sort_keys=False))
    return path


def apiserver_flags(directory: Path) -> list[str]:
    """kube-apiserver's flags for the lab's audit log in `directory`."""
    return [
        f"--audit-policy-file={directory / 'policy.yaml'}",
        f"--audit-log-path={directory / 'audit.log'}",
        "--audit-log-format=json",
        "--audit-log-mode=blocking",  # written before the request's goroutine ends; no batching delay
        f"--audit-log-maxsize={MAX_SIZE_MB}",
        f"--audit-log-maxbackup={MAX_BACKUPS}",
    ]


def log_files(directory: Path) -> list[Path]:
    """The rotated files, oldest first (their names hold the UTC time of rotation), then audit.log."""
    return sorted(directory.glob("audit-*.log")) + [p for p in [directory / "audit.log"] if p.exists()]


def read_audit_log(
    directory: Path,
    *,
    user_agent: str | None = None,
    since: Any = None,
    until: Any = None,
    stage: str | None = "ResponseComplete",
) -> "pd.DataFrame":
    """The audit events in `directory` as a DataFrame, in the order they were written.

    `user_agent` keeps the rows whose user agent contains it; `since` and
    `until` (datetime, pandas Timestamp or ISO string; without a time zone,
    local time, as `datetime.now()` gives) keep the requests *received* in
    [since, until); `stage=None` keeps every stage. Columns: see COLUMNS
    (`received` is a UTC Timestamp, `latency_ms` from received to the stage).
    """
    import pandas as pd

    rows = [_row(event) for path in log_files(directory) for event in _events(path)]
    frame = pd.DataFrame(rows, columns=COLUMNS + ["_at"])
    if not frame.empty:
        frame["received"] = pd.to_datetime(frame["received"], utc=True, format="ISO8601")
        at = pd.to_datetime(frame.pop("_at"), utc=True, format="ISO8601")
        frame["latency_ms"] = (at - frame["received"]).dt.total_seconds() * 1000
        frame["code"] = frame["code"].astype("Int64")
    else:
        frame = frame.drop(columns="_at")
    keep = pd.Series(True, index=frame.index)
    if stage is not None:
        keep &= frame["stage"] == stage
    if user_agent is not None:
        keep &= frame["user_agent"].fillna("").str.contains(user_agent, regex=False)
    if since is not None:
        keep &= frame["received"] >= _utc(since)
    if until is not None:
        keep &= frame["received"] < _utc(until)
    return frame[keep].reset_index(drop=True)


def _events(path: Path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                yield json.loads(line)
            except ValueError:  # the line the API server is writing right now
                continue


def _row(event: dict[str, Any]) -> list[Any]:
    ref = event.get("objectRef") or {}
    return [
        event.get("requestReceivedTimestamp"), None, (event.get("user") or {}).get("username"),
        event.get("userAgent"), event.get("verb"), ref.get("apiGroup", ""), ref.get("resource"),
        ref.get("subresource"), ref.get("namespace"), ref.get("name"),
        (event.get("responseStatus") or {}).get("code"), event.get("requestURI"), event.get("stage"),
        event.get("auditID"), event.get("stageTimestamp"),
    ]


def _utc(when: Any) -> "pd.Timestamp":
    import pandas as pd

    stamp = pd.Timestamp(when)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(dt.datetime.now().astimezone().tzinfo)
    return stamp.tz_convert("UTC")
