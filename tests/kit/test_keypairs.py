"""The kit's throwaway keys: what `generate_rsa_key` and `private_key_pem` refuse, each
with a `KalshiAuthError` that says what to pass instead, and what they make."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from kalshi_auth import ConfigurationError, InvalidPrivateKeyError, KalshiAuth
from kalshi_auth.testing import KalshiVerifier, generate_rsa_key, private_key_pem


@pytest.mark.parametrize("bits", [512, 1023, 8193, 2048.0, "2048", True, None])
def test_generate_rsa_key_refuses_sizes_outside_what_kalshi_auth_loads(bits: object) -> None:
    with pytest.raises(ConfigurationError, match="from 1024 to 8192") as caught:
        generate_rsa_key(bits)  # type: ignore[arg-type]
    message = str(caught.value)
    assert type(bits).__name__ in message
    if type(bits) is int:
        assert f"{bits} bits" in message


@pytest.mark.parametrize(
    "bits", [10**5000, "MC4CAQAwBQYDK2VwBCIEI" + "A" * 10_000], ids=["huge int", "key text"]
)
def test_generate_rsa_key_describes_a_huge_or_secret_looking_value(bits: object) -> None:
    with pytest.raises(ConfigurationError) as caught:
        generate_rsa_key(bits)  # type: ignore[arg-type]
    message = str(caught.value)
    assert len(message) < 120
    assert "MC4C" not in message  # a key's text, passed by mistake, is never quoted


def test_generate_rsa_key_makes_a_key_of_the_size_asked() -> None:
    assert generate_rsa_key(1024).key_size == 1024


def test_private_key_pem_refuses_what_is_not_a_private_key_object() -> None:
    for key in (b"-----BEGIN PRIVATE KEY-----", ec.generate_private_key(ec.SECP256R1()), None):
        with pytest.raises(InvalidPrivateKeyError, match="RSA or Ed25519 private key") as caught:
            private_key_pem(key)  # type: ignore[arg-type]
        assert type(key).__name__ in str(caught.value)


def test_private_key_pem_refuses_an_unknown_encoding_or_password(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    with pytest.raises(ConfigurationError, match="'pkcs1' or 'pkcs8', not a str of 3 char"):
        private_key_pem(kalshi_ed25519_key, encoding="der")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="str or bytes, not int"):
        private_key_pem(kalshi_ed25519_key, password=1234)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="only RSA keys, not Ed25519PrivateKey"):
        private_key_pem(kalshi_ed25519_key, encoding="pkcs1")


def test_private_key_pem_writes_what_the_signer_and_the_kit_read(
    kalshi_rsa_key: rsa.RSAPrivateKey,
) -> None:
    pkcs1 = private_key_pem(kalshi_rsa_key, encoding="pkcs1")
    assert pkcs1.startswith(b"-----BEGIN RSA PRIVATE KEY-----\n")
    encrypted = private_key_pem(kalshi_rsa_key, password="pw")
    assert encrypted.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    loaded = serialization.load_pem_private_key(encrypted, b"pw")
    assert isinstance(loaded, rsa.RSAPrivateKey)
    assert loaded.private_numbers() == kalshi_rsa_key.private_numbers()
    verifier = KalshiVerifier()
    verifier.register("id", pkcs1)
    headers = KalshiAuth("id", pkcs1).headers("GET", "/trade-api/v2/exchange/status")
    assert verifier.verify("GET", "/trade-api/v2/exchange/status", headers).accepted
