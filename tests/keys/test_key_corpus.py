"""The one corpus of key inputs (tests/helpers/key_corpus.py), case by case: each loads and
signs verifiably, or raises its own KalshiAuthError whose message holds the words it must
and whose message, repr, traceback and exception chain hold none of the key."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_auth import KalshiAuth, KalshiAuthError
from kalshi_auth.testing import (
    KalshiVerifier,
    generate_ed25519_key,
    generate_rsa_key,
    private_key_pem,
)
from tests.helpers.key_corpus import KEY_ID, Case, body_of, corpus
from tests.helpers.keyleak import leaked
from tests.helpers.keys import signs_verifiably

# Made at import, so that each case is a test of its own; fresh keys every run.
RSA_KEY = generate_rsa_key()
ED_KEY = generate_ed25519_key()
CASES = corpus(RSA_KEY, ED_KEY)
BODIES = [
    body_of(private_key_pem(RSA_KEY, encoding="pkcs1").decode()),
    body_of(private_key_pem(RSA_KEY).decode()),
    body_of(private_key_pem(ED_KEY).decode()),
    base64.b64encode(
        RSA_KEY.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    ).decode(),
]


def case_id(case: Case) -> str:
    """The case's name with each backslash spelled out: pytest escapes a backslash in an
    id again in each session of one process, so mutmut could not select such a test."""
    return case.name.replace("\\", " backslash-").replace("  ", " ")


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_each_input_loads_and_signs_or_raises_its_own_error(case: Case) -> None:
    try:
        auth = KalshiAuth(case.key_id, case.source, password=case.password)  # type: ignore[arg-type]
    except KalshiAuthError as exc:
        error: KalshiAuthError | None = exc
    else:
        error = None
    if case.expected is None:
        assert error is None, f"{type(error).__name__}: {error}"
        assert signs_verifiably(auth, RSA_KEY if case.key == "rsa" else ED_KEY)
        return
    assert isinstance(error, case.expected), f"{type(error).__name__}: {error}"
    assert case.words in str(error)
    assert not leaked(error, BODIES)  # message, repr, traceback and chain
    assert error.__cause__ is None
    assert error.__context__ is None
    assert len(str(error)) <= 600


@pytest.mark.parametrize("variable", ["KALSHI_PRIVATE_KEY"])
def test_env_file_text_through_from_env(kalshi_rsa_key: rsa.RSAPrivateKey, variable: str) -> None:
    # Exactly what the seed guide's .env example produces once a loader reads it.
    pem = private_key_pem(kalshi_rsa_key).decode()
    one_line = " ".join(pem.strip().splitlines())
    env = {"KALSHI_API_KEY_ID": f'"{KEY_ID}"\n', variable: f'"{one_line}"'}
    auth = KalshiAuth.from_env(env)
    assert auth.key_id == KEY_ID
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, kalshi_rsa_key)
    assert verifier.verify("GET", "/x", auth.headers("GET", "/x")).accepted
