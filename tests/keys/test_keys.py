"""Key loading: every form a user holds a key in, and a clear error for every bad one."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_auth import (
    InvalidKeyIdError,
    InvalidPrivateKeyError,
    KalshiAuth,
    KalshiAuthError,
    PrivateKeyPasswordError,
)
from kalshi_auth.testing import private_key_pem
from tests.helpers.keys import PASSWORD, Credential, assert_no_key_material, signs_verifiably

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"


# --- forms that load ------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["str", "bytes", "path", "str-path", "object"])
def test_every_accepted_form_signs(credential: Credential, tmp_path: Path, form: str) -> None:
    file = tmp_path / "kalshi-key.pem"
    file.write_bytes(credential.pem)
    source: object = {
        "str": credential.pem.decode(),
        "bytes": credential.pem,
        "path": file,
        "str-path": str(file),
        "object": credential.private_key,
    }[form]
    password = PASSWORD if credential.name == "rsa-encrypted" and form != "object" else None
    auth = KalshiAuth(KEY_ID, source, password=password)  # type: ignore[arg-type]
    assert auth.key_type == ("Ed25519" if credential.name == "ed25519" else "RSA-2048")
    assert signs_verifiably(auth, credential.private_key.public_key())


def test_der_file_loads(kalshi_rsa_key: rsa.RSAPrivateKey, tmp_path: Path) -> None:
    file = tmp_path / "key.der"
    file.write_bytes(
        kalshi_rsa_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    assert signs_verifiably(KalshiAuth(KEY_ID, file), kalshi_rsa_key.public_key())


def test_legacy_encrypted_pkcs1_loads(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    pem = kalshi_rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"pw"),
    )
    assert b"Proc-Type: 4,ENCRYPTED" in pem
    assert signs_verifiably(KalshiAuth(KEY_ID, pem, password="pw"), kalshi_rsa_key.public_key())


def test_pem_mangled_by_env_files_still_loads(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    pem = private_key_pem(kalshi_rsa_key, encoding="pkcs1").decode()
    variants = {
        "literal \\n": pem.replace("\n", "\\n"),
        "CRLF": pem.replace("\n", "\r\n"),
        "one line with spaces": pem.replace("\n", " "),
        "quoted": f'"{pem}"',
        "no final newline": pem.rstrip("\n"),
        "indented": "\n".join("    " + line for line in pem.splitlines()),
    }
    for name, text in variants.items():
        auth = KalshiAuth(KEY_ID, text)
        assert signs_verifiably(auth, kalshi_rsa_key.public_key()), name


def test_pkcs1_body_under_pkcs8_header_loads(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    pem = (
        private_key_pem(kalshi_rsa_key, encoding="pkcs1")
        .decode()
        .replace("RSA PRIVATE KEY", "PRIVATE KEY")
    )
    assert signs_verifiably(KalshiAuth(KEY_ID, pem), kalshi_rsa_key.public_key())


# --- forms that fail, each with its own clear message ----------------------------------------


def other_keys() -> dict[str, object]:
    return {
        "ec": ec.generate_private_key(ec.SECP256R1()),
        "dsa": dsa.generate_private_key(2048),
        "ed448": ed448.Ed448PrivateKey.generate(),
    }


def pem_of(key: object, fmt: serialization.PrivateFormat) -> bytes:
    assert isinstance(key, (ec.EllipticCurvePrivateKey, dsa.DSAPrivateKey, rsa.RSAPrivateKey))
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def self_signed_certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kalshi-auth test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


def bad_inputs(
    kalshi_rsa_key: rsa.RSAPrivateKey,
) -> list[tuple[str, object, object, type | None, str]]:
    """(name, private_key, password, error type, words the message must contain)."""
    pkcs1 = private_key_pem(kalshi_rsa_key, encoding="pkcs1").decode()
    encrypted = private_key_pem(kalshi_rsa_key, password=PASSWORD).decode()
    keys = other_keys()
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    lines = pkcs1.splitlines()
    tampered_body = "\n".join([lines[0], lines[1][:10] + "!!" + lines[1][12:], *lines[2:]])
    public_pem = kalshi_rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    openssh = kalshi_rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    cert = self_signed_certificate(kalshi_rsa_key)
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    encrypted_der = kalshi_rsa_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSWORD.encode()),
    )
    plain_der = kalshi_rsa_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    aes256_cbc = bytes.fromhex("060960864801650304012a")  # OID 2.16.840.1.101.3.4.1.42
    assert aes256_cbc in encrypted_der  # cryptography's BestAvailableEncryption cipher
    aes256_ofb = aes256_cbc[:-1] + b"\x2b"  # 4.1.43: a cipher cryptography does not open
    unknown_cipher_der = encrypted_der.replace(aes256_cbc, aes256_ofb, 1)
    public_der = kalshi_rsa_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return [
        ("EC key object", keys["ec"], None, InvalidPrivateKeyError, "elliptic-curve"),
        (
            "EC PEM",
            pem_of(keys["ec"], serialization.PrivateFormat.TraditionalOpenSSL),
            None,
            InvalidPrivateKeyError,
            "elliptic-curve",
        ),
        (
            "EC PKCS#8",
            pem_of(keys["ec"], serialization.PrivateFormat.PKCS8),
            None,
            InvalidPrivateKeyError,
            "elliptic-curve",
        ),
        ("DSA key object", keys["dsa"], None, InvalidPrivateKeyError, "DSA"),
        (
            "DSA PKCS#8",
            pem_of(keys["dsa"], serialization.PrivateFormat.PKCS8),
            None,
            InvalidPrivateKeyError,
            "DSA",
        ),
        ("Ed448", keys["ed448"], None, InvalidPrivateKeyError, "type Kalshi does not use"),
        (
            "public key object",
            kalshi_rsa_key.public_key(),
            None,
            InvalidPrivateKeyError,
            "public key",
        ),
        ("public key PEM", public_pem, None, InvalidPrivateKeyError, "public key"),
        ("certificate object", cert, None, InvalidPrivateKeyError, "certificate"),
        ("certificate PEM", cert_pem, None, InvalidPrivateKeyError, "certificate"),
        ("certificate and key in one file", cert_pem + pkcs1.encode(), None, None, ""),
        ("OpenSSH key", openssh, None, None, ""),  # loads: ssh-keygen's own format
        ("RSA-1024", small, None, InvalidPrivateKeyError, "at least 2048"),
        ("RSA-1024 PEM", private_key_pem(small), None, InvalidPrivateKeyError, "at least 2048"),
        ("encrypted, no password", encrypted, None, PrivateKeyPasswordError, "is encrypted"),
        ("encrypted, wrong password", encrypted, "wrong", PrivateKeyPasswordError, "wrong"),
        ("password for plain key", pkcs1, "pw", PrivateKeyPasswordError, "not encrypted"),
        ("encrypted DER, no password", encrypted_der, None, PrivateKeyPasswordError, "encrypted"),
        ("encrypted DER, wrong password", encrypted_der, "no", PrivateKeyPasswordError, "wrong"),
        ("password for plain DER", plain_der, "pw", PrivateKeyPasswordError, "not encrypted"),
        ("DER, unknown cipher", unknown_cipher_der, PASSWORD, InvalidPrivateKeyError, "cipher"),
        ("public key DER, a password", public_der, "pw", InvalidPrivateKeyError, "binary DER"),
        # damaged past its first element: no password can help, and none is blamed
        ("damaged DER", plain_der[:40], "pw", InvalidPrivateKeyError, "binary DER"),
        (
            "truncated to first line",
            pkcs1.splitlines()[0],
            None,
            InvalidPrivateKeyError,
            "truncated",
        ),
        ("truncated half way", pkcs1[: len(pkcs1) // 2], None, InvalidPrivateKeyError, "truncated"),
        ("body damaged", tampered_body, None, InvalidPrivateKeyError, "damaged"),
        (
            "body lost lines",
            "\n".join(lines[:5] + lines[8:]),
            None,
            InvalidPrivateKeyError,
            "damaged",
        ),
        (
            "empty body",
            "-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----",
            None,
            InvalidPrivateKeyError,
            "empty",
        ),
        ("bare base64 body", "".join(lines[1:-1]), None, InvalidPrivateKeyError, "BEGIN"),
        ("not a key", "hello world", None, InvalidPrivateKeyError, "neither PEM text nor"),
        (
            "missing file",
            Path("/nonexistent/kalshi.pem"),
            None,
            InvalidPrivateKeyError,
            "does not exist",
        ),
        ("directory", Path("/"), None, InvalidPrivateKeyError, "directory"),
        ("binary junk", b"\x00\x01\x02garbage\xff", None, InvalidPrivateKeyError, "PEM"),
        ("wrong type", 12345, None, InvalidPrivateKeyError, "got int"),
        ("empty string", "", None, InvalidPrivateKeyError, "is empty"),
        ("password of wrong type", pkcs1, 123, PrivateKeyPasswordError, "str or bytes"),
    ]


def test_bad_keys_get_their_own_clear_error(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    pem = private_key_pem(kalshi_rsa_key, encoding="pkcs1")
    cases = bad_inputs(kalshi_rsa_key)
    messages = set()
    for name, source, password, error, words in cases:
        if error is None:  # not an error after all: the case documents that it loads
            assert signs_verifiably(KalshiAuth(KEY_ID, source), kalshi_rsa_key.public_key()), name  # type: ignore[arg-type]
            continue
        with pytest.raises(error) as caught:
            KalshiAuth(KEY_ID, source, password=password)  # type: ignore[arg-type]
        message = str(caught.value)
        assert type(caught.value) is error, f"{name}: {caught.value!r}"  # not a subclass
        assert words in message, f"{name}: {message}"
        assert isinstance(caught.value, KalshiAuthError)
        assert isinstance(caught.value, ValueError)
        assert caught.value.__cause__ is None, name  # no chained trace from cryptography
        assert_no_key_material(message, pem)
        messages.add(message)
    assert len(messages) >= len(cases) - 8  # distinct causes get distinct messages


# --- key ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_id", "words"),
    [
        ("", "empty"),
        (" " + KEY_ID, "whitespace"),
        (KEY_ID + "\n", "trailing newline"),
        (KEY_ID + "\r\nX-Injected: 1", "control characters"),
        ("abc def", "inside it"),
        ("abc\x00", "control"),
        ("caf\u00e9", "UUID"),
        (12345, "must be a str"),
    ],
)
def test_bad_key_ids(kalshi_rsa_key: rsa.RSAPrivateKey, key_id: object, words: str) -> None:
    with pytest.raises(InvalidKeyIdError) as caught:
        KalshiAuth(key_id, kalshi_rsa_key)  # type: ignore[arg-type]
    assert words in str(caught.value)


def test_swapped_arguments_do_not_echo_the_key(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    pem = private_key_pem(kalshi_rsa_key, encoding="pkcs1")
    with pytest.raises(InvalidKeyIdError, match="looks like a private key") as caught:
        KalshiAuth(pem.decode(), KEY_ID)
    assert_no_key_material(str(caught.value), pem)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300))
def test_any_text_loads_or_raises_our_error(kalshi_rsa_key: rsa.RSAPrivateKey, text: str) -> None:
    try:
        KalshiAuth(KEY_ID, text)
    except KalshiAuthError as exc:
        assert exc.__cause__ is None
    else:  # pragma: no cover - random text is never a key
        pytest.fail("random text loaded as a key")


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_damaged_pem_loads_verifiably_or_raises_our_error(
    kalshi_rsa_key: rsa.RSAPrivateKey,
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
    data: st.DataObject,
) -> None:
    keys: list[rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey] = [kalshi_rsa_key, kalshi_ed25519_key]
    key = data.draw(st.sampled_from(keys))
    pem = private_key_pem(key)
    text = pem.decode()
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 20)))
    replacement = data.draw(st.text(st.sampled_from("AZaz09+/=\n \\\"'-"), max_size=5))
    damaged = text[:start] + replacement + text[end:]
    try:
        auth = KalshiAuth(KEY_ID, damaged)
    except KalshiAuthError as exc:
        assert exc.__cause__ is None
        assert_no_key_material(str(exc), pem)
    else:
        # RSA keys are checked for consistency, so damage that loads was only cosmetic.
        # An Ed25519 key is any 32 bytes: a changed seed is a different, valid key.
        if isinstance(key, rsa.RSAPrivateKey):
            assert signs_verifiably(auth, key.public_key())
        else:
            assert auth.key_type == "Ed25519"
