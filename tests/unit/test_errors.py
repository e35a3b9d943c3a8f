"""The error tree: the right class for a Status, and hints only where they are true."""

from __future__ import annotations

import pytest

from k8slab import errors


@pytest.mark.parametrize(
    "code, reason, cls",
    [
        pytest.param(404, "NotFound", errors.NotFound, id="404 is NotFound"),
        pytest.param(409, "AlreadyExists", errors.AlreadyExists, id="409 AlreadyExists is its own class"),
        pytest.param(409, "Conflict", errors.Conflict, id="409 Conflict"),
        pytest.param(410, "Expired", errors.Gone, id="410 is Gone"),
        pytest.param(422, "Invalid", errors.Invalid, id="422 is Invalid"),
        pytest.param(503, "ServiceUnavailable", errors.APIError, id="an unlisted code stays APIError"),
    ],
)
def test_from_status_picks_the_class(code, reason, cls):
    err = errors.APIError.from_status(code, {"reason": reason, "message": "m"})
    assert type(err) is cls and err.code == code and err.reason == reason


def test_already_exists_is_also_a_conflict():
    assert isinstance(errors.APIError.from_status(409, {"reason": "AlreadyExists"}), errors.Conflict)


def test_an_rbac_denial_gets_the_rbac_hint():
    msg = 'secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace "x"'
    err = errors.APIError.from_status(403, {"reason": "Forbidden", "message": msg}, "list secrets")
    assert str(err).startswith("list secrets: secrets is forbidden")
    assert "RBAC denies it" in str(err)


def test_an_admission_refusal_is_not_blamed_on_rbac():
    msg = 'pods "web-0" is forbidden: error looking up service account x/default: serviceaccount "default" not found'
    err = errors.APIError.from_status(403, {"reason": "Forbidden", "message": msg})
    assert isinstance(err, errors.Forbidden)
    assert "RBAC" not in str(err)


@pytest.mark.parametrize(
    "make, cls, code, reason, message",
    [
        pytest.param(lambda: errors.new_not_found("leases", "a", "coordination.k8s.io"), errors.NotFound, 404,
                     "NotFound", 'leases.coordination.k8s.io "a" not found', id="not found names the group resource"),
        pytest.param(lambda: errors.new_already_exists("pods", "p"), errors.AlreadyExists, 409, "AlreadyExists",
                     'pods "p" already exists', id="already exists is a 409 of its own class"),
        pytest.param(lambda: errors.new_conflict("pods", "p", "the object has been modified"), errors.Conflict, 409,
                     "Conflict", 'Operation cannot be fulfilled on pods "p": the object has been modified',
                     id="conflict says what cannot be fulfilled"),
        pytest.param(lambda: errors.new_resource_expired("too old resource version: 1 (5)"), errors.Gone, 410,
                     "Expired", "too old resource version: 1 (5)", id="an expired resource version is Gone"),
        pytest.param(lambda: errors.new_too_many_requests("slow down", 3), errors.TooManyRequests, 429,
                     "TooManyRequests", "slow down", id="too many requests"),
    ],
)
def test_constructors_build_what_the_api_server_answers(make, cls, code, reason, message):
    err = make()
    assert type(err) is cls
    assert (err.code, err.reason) == (code, reason)
    assert err.status["kind"] == "Status" and err.status["status"] == "Failure"
    assert (err.status["code"], err.status["reason"], err.status["message"]) == (code, reason, message)
    assert str(err).startswith(message)
