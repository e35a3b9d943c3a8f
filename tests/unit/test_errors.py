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
