"""Key input is never echoed, every bad input gets its typed error, and work is bounded.

Each damaged or wrong key input either loads (and signs verifiably) or raises its own
KalshiAuthError subclass; the message, repr, formatted traceback and the whole
__cause__/__context__ chain are scanned for the key's base64."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalshi_auth import (
    ConfigurationError,
    InvalidKeyIdError,
    InvalidPrivateKeyError,
    KalshiAuth,
    KalshiAuthError,
    PrivateKeyPasswordError,
)
from kalshi_auth._keys import load_private_key
from kalshi_auth.testing import KalshiVerifier, private_key_pem
from tests.helpers.key_corpus import body_of
from tests.helpers.keyleak import leaked
from tests.helpers.keys import signs_verifiably

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
EM, EN = "\u2014", "\u2013"


def test_key_id_in_the_key_position_and_back(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    pem = private_key_pem(kalshi_rsa_key, encoding="pkcs1").decode()
    with pytest.raises(InvalidKeyIdError) as caught:
        KalshiAuth(pem, KEY_ID)  # arguments swapped
    assert not leaked(caught.value, [body_of(pem)])
    assert "key id first" in str(caught.value)


def test_a_missing_path_is_described_not_quoted(tmp_path: Path) -> None:
    secret_looking = tmp_path / "MIIEowIBAAKCAQEAx9"
    with pytest.raises(InvalidPrivateKeyError) as caught:
        KalshiAuth(KEY_ID, secret_looking)
    assert "MIIEowIBAAKCAQEAx9" not in str(caught.value)
    assert "does not exist" in str(caught.value)
    secret_looking.write_text("not a key")
    with pytest.raises(InvalidPrivateKeyError) as caught:
        KalshiAuth(KEY_ID, secret_looking)
    assert str(secret_looking) in str(caught.value)  # it exists: naming it helps


# --- the loader fuzzed ----------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_pem_never_escapes_untyped_or_echoes(data: st.DataObject) -> None:
    pem = FUZZ_PEMS[data.draw(st.sampled_from(sorted(FUZZ_PEMS)))]
    mutated = bytearray(pem)
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(mutated)))
        action = data.draw(st.sampled_from(["insert", "delete", "replace", "cut"]))
        byte = data.draw(st.integers(0, 255))
        if action == "insert":
            mutated[at:at] = bytes([byte])
        elif action == "delete":
            del mutated[at : at + data.draw(st.integers(1, 64))]
        elif action == "replace" and at < len(mutated):
            mutated[at] = byte
        else:
            del mutated[at:]
    source: object = bytes(mutated)
    if data.draw(st.booleans()):
        source = bytes(mutated).decode("utf-8", "replace")
    try:
        load_private_key(source)
    except KalshiAuthError as exc:
        assert not leaked(exc, FUZZ_BODIES), str(exc)
        assert exc.__context__ is None


_FUZZ_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_FUZZ_ED = ed25519.Ed25519PrivateKey.generate()
FUZZ_PEMS = {
    "pkcs1": private_key_pem(_FUZZ_RSA, encoding="pkcs1"),
    "ed25519": private_key_pem(_FUZZ_ED),
    "encrypted": private_key_pem(_FUZZ_ED, password="pw"),
}
FUZZ_BODIES = [body_of(pem.decode()) for pem in FUZZ_PEMS.values()]


# --- bounded work ---------------------------------------------------------------------------

BIG_BODY = (
    "-----BEGIN RSA PRIVATE KEY-----\n" + "A" * 10_000_000 + "\n-----END RSA PRIVATE KEY-----"
)
HOSTILE = {
    "10 MB PEM body": BIG_BODY,
    "10 MB PEM body as bytes": BIG_BODY.encode(),
    "200 KB of spaces after BEGIN": "-----BEGIN" + " " * 200_000,
    "200 KB of spaces after BEGIN (bytes)": b"-----BEGIN" + b" " * 200_000,
    # Just under the size cap: these reach the parser.
    "60 KB of spaces after BEGIN": "-----BEGIN" + " " * 60_000,
    "dashes, 12 000 times": "-----" * 12_000,
    "BEGIN, 5 000 times": "-----BEGIN " * 5_000,
    "quotes, 60 000 deep": '"' * 60_000,
    "Proc-Type headers repeated": "-----BEGIN RSA PRIVATE KEY-----\n"
    + "Proc-Type: " * 5_000
    + "\n-----END RSA PRIVATE KEY-----",
    "labels without end": "-----BEGIN RSA PRIVATE KEY-----" * 2_000,
    "END word repeated": "-----BEGIN PRIVATE KEY-----" + "END PRIVATE KEY" * 4_000,
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_inputs_are_refused(name: str) -> None:
    with pytest.raises(InvalidPrivateKeyError):
        load_private_key(HOSTILE[name])


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("form", ["str", "Path"])
def test_dev_zero_is_refused(form: str) -> None:
    with pytest.raises(InvalidPrivateKeyError, match="not a regular file"):
        load_private_key("/dev/zero" if form == "str" else Path("/dev/zero"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "key.fifo"
    os.mkfifo(fifo)  # no writer: opening it for reading would block forever
    with pytest.raises(InvalidPrivateKeyError, match="FIFO"):
        load_private_key(fifo)


def test_a_large_regular_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.pem"
    big.write_text(BIG_BODY)
    with pytest.raises(InvalidPrivateKeyError, match="not a regular file of at most"):
        load_private_key(big)


# --- typed errors from every public function ------------------------------------------------


class BytesPath:
    def __init__(self, path: bytes) -> None:
        self.path = path

    def __fspath__(self) -> bytes:
        return self.path


class BrokenPath:
    def __fspath__(self) -> int:
        return 42


def test_a_pathlike_returning_bytes_loads(
    kalshi_rsa_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    file = tmp_path / "k.pem"
    file.write_bytes(private_key_pem(kalshi_rsa_key))
    auth = KalshiAuth(KEY_ID, BytesPath(os.fsencode(file)))
    assert signs_verifiably(auth, kalshi_rsa_key)


def test_a_broken_pathlike_is_a_typed_error() -> None:
    with pytest.raises(InvalidPrivateKeyError, match="__fspath__"):
        KalshiAuth(KEY_ID, BrokenPath())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda a: KalshiAuth(KEY_ID, a, hosts=None), ConfigurationError),  # type: ignore[arg-type]
        (lambda a: KalshiAuth(KEY_ID, a, password="\ud800"), PrivateKeyPasswordError),
        (lambda a: KalshiAuth(KEY_ID, a, clock=5), ConfigurationError),  # type: ignore[arg-type]
        (lambda a: KalshiAuth(KEY_ID, a).headers("GET", "https://[::1/x"), ConfigurationError),
        (lambda a: KalshiAuth(KEY_ID, a).headers("GET", "https://h:99999/x"), ConfigurationError),
        (lambda a: KalshiAuth(KEY_ID, a).headers("GET", "/x\ud800"), ConfigurationError),
        (lambda a: KalshiAuth(KEY_ID, a).headers("GET", b"/x"), ConfigurationError),  # type: ignore[arg-type]
        (lambda a: KalshiAuth(KEY_ID, a).headers(5, "/x"), ConfigurationError),  # type: ignore[arg-type]
        (lambda a: KalshiAuth(KEY_ID, a).headers("G T", "/x"), ConfigurationError),
        (
            lambda a: KalshiAuth(KEY_ID, a).headers("GET", "/x", timestamp_ms=10**5000),
            ConfigurationError,
        ),
        (lambda a: KalshiAuth(KEY_ID, a).headers("GET", "/x", timestamp_ms=-1), ConfigurationError),
        (lambda a: KalshiAuth.from_env({"KALSHI_API_KEY_ID": KEY_ID}), ConfigurationError),
    ],
)
def test_bad_arguments_are_typed_errors(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey, call: object, error: type[KalshiAuthError]
) -> None:
    with pytest.raises(error) as caught:
        call(kalshi_ed25519_key)  # type: ignore[operator]
    assert caught.value.__context__ is None or isinstance(caught.value, ConfigurationError)
    assert "\ud800" not in str(caught.value)


def test_from_env_blames_the_key_id_variable(
    kalshi_rsa_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    file = tmp_path / "k.pem"
    file.write_bytes(private_key_pem(kalshi_rsa_key))
    env = {"KALSHI_API_KEY_ID": "has space", "KALSHI_PRIVATE_KEY_PATH": str(file)}
    with pytest.raises(InvalidKeyIdError) as caught:
        KalshiAuth.from_env(env)
    assert str(caught.value).startswith("KALSHI_API_KEY_ID: ")
    assert "KALSHI_PRIVATE_KEY_PATH" not in str(caught.value)
    assert caught.value.__context__ is None
    env = {"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY_PATH": str(tmp_path / "none.pem")}
    with pytest.raises(InvalidPrivateKeyError, match=r"^KALSHI_PRIVATE_KEY_PATH: "):
        KalshiAuth.from_env(env)


@settings(max_examples=200, deadline=None)
@given(
    method=st.text(max_size=10),
    target=st.text(max_size=60),
    headers=st.dictionaries(
        st.sampled_from(
            ["KALSHI-ACCESS-KEY", "KALSHI-ACCESS-TIMESTAMP", "KALSHI-ACCESS-SIGNATURE", "X"]
        ),
        st.one_of(st.text(max_size=40), st.from_regex(r"\d{1,6000}", fullmatch=True)),
    ),
)
def test_the_verifier_never_raises_on_header_values(
    method: str, target: str, headers: dict[str, str]
) -> None:
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, _FUZZ_ED)
    headers.setdefault("KALSHI-ACCESS-KEY", KEY_ID)
    verdict = verifier.verify(method, target, headers)
    assert verdict.status in (200, 401)
    assert len(verdict.reason) < 600


def test_verifier_refuses_a_5000_digit_timestamp() -> None:
    verifier = KalshiVerifier()
    headers = {"KALSHI-ACCESS-SIGNATURE": "x", "KALSHI-ACCESS-TIMESTAMP": "9" * 5000}
    verdict = verifier.verify("GET", "/x", headers)
    assert not verdict.accepted
    assert verdict.body is not None
    assert verdict.body["error"]["code"] == "header_timestamp_expired"
