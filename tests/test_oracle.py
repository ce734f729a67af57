"""The testing kit is an oracle only if it would catch the library's own mistakes.

Its verifier shares no code with the signer (tests/test_architecture.py checks the imports);
here a broken signing stage is rejected by it, and its verdicts agree, case by case, with a
second verifier written below from Kalshi's documentation.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import kalshi_auth._core
import kalshi_auth._signing
from kalshi_auth import KalshiAuth
from kalshi_auth.testing import (
    INCORRECT_SIGNATURE,
    KalshiTestServer,
    KalshiVerifier,
    private_key_pem,
)

KEY_ID = "00000000-0000-4000-8000-0000000004c1"


def keeps_the_query(target: str, *, include_query: bool = False) -> str:
    """`signing_path` with the bug the seed guide teaches: the query signed too."""
    return target.partition("#")[0]


def lower_cases_the_method(timestamp: str, method: str, path: str) -> bytes:
    """`string_to_sign` with the method left as typed ("get")."""
    return f"{timestamp}{method.lower()}{path}".encode()


BROKEN_STAGES: dict[str, tuple[str, Callable[..., object]]] = {
    "signing_path keeps the query": ("signing_path", keeps_the_query),
    "string_to_sign lower-cases the method": ("string_to_sign", lower_cases_the_method),
}


def break_where_production_calls_it(monkeypatch: pytest.MonkeyPatch, stage: str) -> None:
    """Replace the name `SigningCore._make_headers` calls (imported by name into `_core`)."""
    name, broken = BROKEN_STAGES[stage]
    monkeypatch.setattr(kalshi_auth._core, name, broken)


def break_at_the_source(monkeypatch: pytest.MonkeyPatch, stage: str) -> None:
    """Edit the function's body in `_signing`, as a regression there would: every module
    that imported the function, a verifier sharing it included, runs the broken body."""
    name, broken = BROKEN_STAGES[stage]
    monkeypatch.setattr(getattr(kalshi_auth._signing, name), "__code__", broken.__code__)


@pytest.mark.parametrize("stage", sorted(BROKEN_STAGES))
@pytest.mark.parametrize("breaks", [break_where_production_calls_it, break_at_the_source])
def test_a_broken_signing_stage_is_rejected_by_the_kit(
    monkeypatch: pytest.MonkeyPatch,
    ed25519_key: ed25519.Ed25519PrivateKey,
    breaks: Callable[[pytest.MonkeyPatch, str], None],
    stage: str,
) -> None:
    auth = KalshiAuth(KEY_ID, ed25519_key)
    with KalshiTestServer({KEY_ID: ed25519_key}) as server:
        url = server.base_url + "/portfolio/orders?limit=5&status=resting"
        assert requests.get(url, auth=auth, timeout=10).status_code == 200  # sound as shipped
        breaks(monkeypatch, stage)
        answer = requests.get(url, auth=auth, timeout=10)
        monkeypatch.undo()
        verdict = server.requests[-1].verdict
    assert answer.status_code == 401, f"the kit accepted {verdict.message!r}"
    assert answer.json() == INCORRECT_SIGNATURE
    assert "INCORRECT_API_KEY_SIGNATURE" in answer.text


# Registration reads keys with cryptography's loaders, not the library's `_keys`.
Enc = serialization.Encoding
PublicFormat = serialization.PublicFormat


@pytest.mark.parametrize(
    "form",
    ["object", "public object", "pkcs1 pem", "pkcs8 pem", "pkcs8 pem str", "public pem",
     "public pem str", "pkcs8 der", "public der", "openssh public"],
)  # fmt: skip
def test_the_kit_registers_a_key_in_every_plain_form(rsa_key: rsa.RSAPrivateKey, form: str) -> None:
    public = rsa_key.public_key()
    forms: dict[str, object] = {
        "object": rsa_key,
        "public object": public,
        "pkcs1 pem": private_key_pem(rsa_key, encoding="pkcs1"),
        "pkcs8 pem": private_key_pem(rsa_key),
        "pkcs8 pem str": private_key_pem(rsa_key).decode(),
        "public pem": public.public_bytes(Enc.PEM, PublicFormat.SubjectPublicKeyInfo),
        "public pem str": public.public_bytes(Enc.PEM, PublicFormat.SubjectPublicKeyInfo).decode(),
        "pkcs8 der": rsa_key.private_bytes(
            Enc.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        "public der": public.public_bytes(Enc.DER, PublicFormat.SubjectPublicKeyInfo),
        "openssh public": public.public_bytes(Enc.OpenSSH, PublicFormat.OpenSSH),
    }
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, forms[form])
    registered = verifier.keys[KEY_ID]
    assert isinstance(registered, rsa.RSAPublicKey)
    assert registered.public_numbers() == public.public_numbers()
    headers = KalshiAuth(KEY_ID, rsa_key).headers("GET", "/trade-api/v2/portfolio/balance")
    assert verifier.verify("GET", "/trade-api/v2/portfolio/balance", headers).accepted


def test_the_kit_refuses_what_holds_no_usable_key(rsa_key: rsa.RSAPrivateKey) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    refused: dict[str, tuple[object, type[Exception], str]] = {
        "encrypted": (private_key_pem(rsa_key, password="pw"), ValueError, "unencrypted"),
        "EC private": (
            ec_key.private_bytes(
                Enc.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            ValueError,
            "neither RSA nor Ed25519",
        ),
        "EC public": (
            ec_key.public_key().public_bytes(Enc.PEM, PublicFormat.SubjectPublicKeyInfo),
            ValueError,
            "neither RSA nor Ed25519",
        ),
        "truncated": (private_key_pem(rsa_key)[:300], ValueError, "no unencrypted"),
        "junk": ("not a key", ValueError, "no unencrypted"),
        "a number": (42, TypeError, "not int"),
    }
    for name, (key, error, words) in refused.items():
        with pytest.raises(error, match=words):
            KalshiVerifier().register(name, key)
