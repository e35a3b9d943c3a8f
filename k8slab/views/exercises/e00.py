"""Notebook 00's checked exercise: who the API server thinks a client certificate is.

    00.1  write user_info(cert_pem): the user name and groups kube-apiserver's x509
          authenticator reads from a client certificate (apiserver
          `pkg/authentication/request/x509/x509.go`, `CommonNameUserConversion`): the
          subject's CommonName is the user, each Organization a group, in order; a
          certificate without a CommonName authenticates nobody (None)

The scenarios issue real certificates with a CA of their own (`k8slab.lab.pki`,
the code that made the lab's admin certificate), in a temporary directory, so
the check needs no lab. The expected answers are what each scenario put in
the certificate's subject.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from k8slab.lab.pki import CA
from k8slab.views.exercises.framework import Mismatch, Run, define, expect

__all__: list[str] = []


def _ca(run: Run) -> CA:
    directory = Path(tempfile.mkdtemp(prefix="k8slab-exercise-00-"))
    run.defer(lambda: shutil.rmtree(directory, ignore_errors=True))
    return CA.create(directory / "pki", common_name="exercise-ca")


def _ask(answer: Any, cert_pem: bytes, what: str, expected: Any) -> Any:
    try:
        return answer(cert_pem)
    except Exception as exc:
        if isinstance(exc, NotImplementedError):
            raise
        hint = ("no CommonName: return None rather than fail" if expected is None else
                "cert_pem is PEM bytes: x509.load_pem_x509_certificate(cert_pem) reads it")
        raise Mismatch(f"user_info({what}) = {expected!r}", f"{type(exc).__name__}: {exc}", hint) from None


def _shape(got: Any) -> Any:
    """A (name, groups) pair with the groups as a list, so a tuple of groups compares too."""
    if isinstance(got, (tuple, list)) and len(got) == 2 and isinstance(got[1], (list, tuple)):
        return (got[0], list(got[1]))
    return got


user_info = define("00.1", "the user and groups the API server reads from a client certificate",
                   answer="a function user_info(cert_pem) -> (user name, [groups]), or None")


def _issued(answer: Any, run: Run, name: str, organizations: list[str], hint: str) -> None:
    cert, _ = _ca(run).issue(name, organizations=organizations)
    what = f"a certificate with CN={name!r}, O={organizations!r}"
    expect(f"user_info({what})", _shape(_ask(answer, cert, what, (name, organizations))), (name, organizations),
           hint=hint)


@user_info.scenario("the lab's admin certificate (CN admin, O system:masters) is user admin in group system:masters")
def _admin(answer: Any, run: Run) -> None:
    _issued(answer, run, "admin", ["system:masters"],
            "the user is the subject's CommonName (not the issuer's: that is the CA), the groups its Organizations")


@user_info.scenario("each Organization is one group, in the certificate's order")
def _several(answer: Any, run: Run) -> None:
    _issued(answer, run, "alice", ["students", "admins"],
            "subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME) gives them all, in order")


@user_info.scenario("a certificate without an Organization is a user in no group")
def _no_groups(answer: Any, run: Run) -> None:
    _issued(answer, run, "carol", [], "no Organization attribute: an empty list of groups")


@user_info.scenario("a certificate without a CommonName authenticates nobody (None)")
def _no_name(answer: Any, run: Run) -> None:
    ca = _ca(run)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters")]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(ca.key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    what = "a certificate with O=['system:masters'] and no CN"
    expect(f"user_info({what})", _shape(_ask(answer, pem, what, None)), None,
           hint="CommonNameUserConversion answers 'not authenticated' when the CommonName is empty: "
                "the request goes on as anonymous, whatever the Organizations say")
