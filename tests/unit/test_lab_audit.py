"""The audit log reader and the policy, on hand-written audit events (no lab)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from k8slab.errors import AuditLogOff
from k8slab.lab import Lab
from k8slab.lab.audit import COLUMNS, POLICY, apiserver_flags, read_audit_log, write_policy


def event(received: str, done: str, verb: str, ua: str, code: int = 200, stage: str = "ResponseComplete",
          name: str | None = "c", user: str = "admin") -> dict:
    ref = {"resource": "configmaps", "namespace": "ns", "apiVersion": "v1"}
    if name:
        ref["name"] = name
    return {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": f"id-{received}",
            "stage": stage, "requestURI": "/api/v1/namespaces/ns/configmaps", "verb": verb,
            "user": {"username": user, "groups": ["system:masters"]}, "userAgent": ua, "objectRef": ref,
            "responseStatus": {"metadata": {}, "code": code},
            "requestReceivedTimestamp": received, "stageTimestamp": done}


def write(path, events, torn: str = "") -> None:
    path.write_text("".join(json.dumps(e) + "\n" for e in events) + torn)


@pytest.fixture
def logdir(tmp_path):
    write(tmp_path / "audit-2026-01-01T10-00-00.000.log", [
        event("2026-01-01T09:59:00.000000Z", "2026-01-01T09:59:00.002000Z", "create", "old/1.0", 201),
    ])
    write(tmp_path / "audit.log", [
        event("2026-01-01T10:00:01.000000Z", "2026-01-01T10:00:01.001500Z", "get", "demo/1.0 (test)"),
        event("2026-01-01T10:00:02.000000Z", "2026-01-01T10:00:02.000000Z", "watch", "demo/1.0 (test)",
              stage="ResponseStarted", name=None),
        event("2026-01-01T10:00:03.000000Z", "2026-01-01T10:00:03.004000Z", "delete", "other/2.0", 404),
    ], torn='{"kind":"Event","apiVersion":"audit.k8s.io/v1","lev')  # the line being written
    return tmp_path


def test_rotated_files_come_first_and_a_torn_last_line_is_skipped(logdir):
    frame = read_audit_log(logdir)
    assert list(frame.columns) == COLUMNS
    assert list(frame["verb"]) == ["create", "get", "delete"]
    assert list(frame["code"]) == [201, 200, 404]
    assert frame["latency_ms"].round(3).tolist() == [2.0, 1.5, 4.0]
    assert str(frame["received"].dt.tz) == "UTC"


def test_every_stage_on_request(logdir):
    assert list(read_audit_log(logdir, stage=None)["stage"]) == [
        "ResponseComplete", "ResponseComplete", "ResponseStarted", "ResponseComplete"]


def test_filter_by_user_agent_is_a_plain_substring(logdir):
    assert list(read_audit_log(logdir, user_agent="demo/1.0 (")["verb"]) == ["get"]
    assert read_audit_log(logdir, user_agent="demo/1.0 .*").empty  # not a regular expression


def test_a_time_window_keeps_the_requests_received_in_it(logdir):
    since = dt.datetime(2026, 1, 1, 10, 0, 1, tzinfo=dt.timezone.utc)
    assert list(read_audit_log(logdir, since=since)["verb"]) == ["get", "delete"]
    assert list(read_audit_log(logdir, until=since)["verb"]) == ["create"]
    assert list(read_audit_log(logdir, since="2026-01-01T10:00:00Z", until="2026-01-01T10:00:02Z")["verb"]) == ["get"]


def test_a_time_without_a_zone_is_local_time(logdir):
    local = dt.datetime(2026, 1, 1, 10, 0, 2, tzinfo=dt.timezone.utc).astimezone().replace(tzinfo=None)
    assert list(read_audit_log(logdir, since=local)["verb"]) == ["delete"]


def test_no_log_yet_is_an_empty_table_with_the_columns(tmp_path):
    frame = read_audit_log(tmp_path)
    assert frame.empty and list(frame.columns) == COLUMNS


def test_the_policy_is_metadata_for_everything_and_the_flags_rotate(tmp_path):
    path = write_policy(tmp_path / "audit")
    assert yaml.safe_load(path.read_text()) == POLICY
    assert POLICY["rules"] == [{"level": "Metadata"}]  # never Request or RequestResponse: no bodies
    flags = apiserver_flags(tmp_path / "audit")
    assert f"--audit-policy-file={path}" in flags
    assert "--audit-log-maxsize=50" in flags and "--audit-log-maxbackup=4" in flags


def test_reading_the_audit_log_of_a_lab_without_one_says_how_to_turn_it_on(tmp_path):
    lab = Lab("quiet", profile="minimal", state_dir=tmp_path / "quiet", progress=None)
    lab.dir.mkdir(parents=True)
    (lab.dir / "state.json").write_text(json.dumps({"profile": "minimal", "processes": {"etcd": {}}}))
    with pytest.raises(AuditLogOff, match=r"lab 'quiet' records no audit log; .*k8slab up --lab quiet --audit"):
        lab.audit_log()
