"""Key decryption is bounded (issue #14): the KDF parameters of an encrypted key are read
before anything is decrypted, and a key whose parameters would cost more than the caps is
refused at once with a KalshiAuthError that names the parameter, its value and the cap.

The keys here are made at run time: real ones with small parameters (or at the caps), and
hand-built DER and OpenSSH structures whose parameters no real tool would write."""

from __future__ import annotations

import base64
import hashlib
import importlib
import os
import shutil
import struct
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.exceptions import InternalError, UnsupportedAlgorithm
from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalshi_auth import InvalidPrivateKeyError, KalshiAuth, KalshiAuthError
from kalshi_auth._inspect import KeyReport, inspect_key
from kalshi_auth._keys import load_private_key
from tests.cli.test_cli import fields, run
from tests.helpers.keys import signs_verifiably

KEY_ID = "0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b"
PASSWORD = b"pw"

# The documented caps (docs and CHANGELOG state the same numbers).
BCRYPT_ROUNDS_CAP = 100
ITERATIONS_CAP = 1_000_000
SCRYPT_N_CAP = 2**18
SCRYPT_R_CAP = 32
SCRYPT_P_CAP = 16
SCRYPT_MEMORY_CAP = 64 * 1024 * 1024
RSA_BITS_CAP = 8192

# A refused key costs parsing only; this is generous for a slow CI machine.
QUICK = 1.0
# Loading the old code on these inputs runs for years (or panics): fail, do not hang.
no_hang = pytest.mark.timeout(60, method="thread")

OID_PBES2 = "1.2.840.113549.1.5.13"
OID_PBKDF2 = "1.2.840.113549.1.5.12"
OID_SCRYPT = "1.3.6.1.4.1.11591.4.11"
OID_AES256_CBC = "2.16.840.1.101.3.4.1.42"
OID_PBE_SHA1_3DES = "1.2.840.113549.1.12.1.3"  # PKCS#12
OID_PBE_MD5_DES = "1.2.840.113549.1.5.3"  # PKCS#5 v1.5
OID_RSA = "1.2.840.113549.1.1.1"
OID_DSA = "1.2.840.10040.4.1"
HMAC_OIDS = {
    "sha1": "1.2.840.113549.2.7",
    "sha224": "1.2.840.113549.2.8",
    "sha256": "1.2.840.113549.2.9",
    "sha384": "1.2.840.113549.2.10",
    "sha512": "1.2.840.113549.2.11",
}


# --- DER, written by hand -------------------------------------------------------------------


def tlv(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + body


def seq(*items: bytes) -> bytes:
    return tlv(0x30, b"".join(items))


def integer(value: int) -> bytes:
    return tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def octets(data: bytes) -> bytes:
    return tlv(0x04, data)


def oid(dotted: str) -> bytes:
    first, second, *rest = (int(part) for part in dotted.split("."))
    out = bytearray([40 * first + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        high = arc >> 7
        while high:
            chunk.append(0x80 | (high & 0x7F))
            high >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))


NULL = b"\x05\x00"


def pem(der: bytes, label: str = "ENCRYPTED PRIVATE KEY") -> bytes:
    body = base64.b64encode(der).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""]).encode()


# --- encrypted PKCS#8, real or with parameters no tool would write --------------------------

SALT = b"0123456789abcdef"
IV = b"fedcba9876543210"


def pkcs8_der(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def aes256_cbc(key: bytes, plaintext: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(IV)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def pbes2(kdf: bytes, ciphertext: bytes) -> bytes:
    scheme = seq(oid(OID_AES256_CBC), octets(IV))
    return seq(seq(oid(OID_PBES2), seq(kdf, scheme)), octets(ciphertext))


def pbkdf2_params(iterations: int, prf: str = "sha256", salt: bytes = SALT) -> bytes:
    # hmacWithSHA1 is the DEFAULT, so DER leaves it out.
    prf_field = b"" if prf == "sha1" else seq(oid(HMAC_OIDS[prf]), NULL)
    return seq(oid(OID_PBKDF2), seq(octets(salt), integer(iterations), prf_field))


def scrypt_params(n: int, r: int, p: int, salt: bytes = SALT) -> bytes:
    return seq(oid(OID_SCRYPT), seq(octets(salt), integer(n), integer(r), integer(p)))


def pbkdf2_key(
    plaintext: bytes | None, iterations: int, prf: str = "sha256", salt: bytes = SALT
) -> bytes:
    """EncryptedPrivateKeyInfo, PBES2 + PBKDF2 + AES-256-CBC; `plaintext` None: junk data
    (for iteration counts no test could afford to compute)."""
    if plaintext is None:
        data = bytes(64)
    else:
        data = aes256_cbc(hashlib.pbkdf2_hmac(prf, PASSWORD, salt, iterations, 32), plaintext)
    return pbes2(pbkdf2_params(iterations, prf, salt), data)


def scrypt_key(plaintext: bytes | None, n: int, r: int, p: int, salt: bytes = SALT) -> bytes:
    if plaintext is None:
        data = bytes(64)
    else:
        derived = hashlib.scrypt(PASSWORD, salt=salt, n=n, r=r, p=p, maxmem=2**28, dklen=32)
        data = aes256_cbc(derived, plaintext)
    return pbes2(scrypt_params(n, r, p, salt), data)


def pbe_key(iterations: int, scheme: str = OID_PBE_SHA1_3DES) -> bytes:
    """A legacy PKCS#5 v1.5 / PKCS#12 PBE EncryptedPrivateKeyInfo (junk ciphertext)."""
    return seq(seq(oid(scheme), seq(octets(SALT[:8]), integer(iterations))), octets(bytes(64)))


# --- OpenSSH keys, with their bcrypt rounds rewritten ---------------------------------------


def ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def openssh_key(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey, rounds: int = 16) -> bytes:
    builder = serialization.PrivateFormat.OpenSSH.encryption_builder().kdf_rounds(rounds)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, builder.build(PASSWORD)
    )


def openssh_blob(text: bytes) -> bytes:
    return base64.b64decode(b"".join(text.strip().splitlines()[1:-1]))


def openssh_text(blob: bytes) -> bytes:
    return pem(blob, "OPENSSH PRIVATE KEY")


def with_rounds(text: bytes, rounds: int) -> bytes:
    """The OpenSSH key `text` with the rounds in its kdfoptions set to `rounds`."""
    blob = openssh_blob(text)
    at = len(b"openssh-key-v1\0")
    for _ in range(2):  # ciphername, kdfname
        at += 4 + struct.unpack(">I", blob[at : at + 4])[0]
    salt_size = struct.unpack(">I", blob[at + 4 : at + 8])[0]
    rounds_at = at + 8 + salt_size
    return openssh_text(blob[:rounds_at] + struct.pack(">I", rounds) + blob[rounds_at + 4 :])


# --- keys too large to check quickly --------------------------------------------------------


def big_rsa_numbers(bits: int) -> list[int]:
    """PKCS#1 RSAPrivateKey fields with a `bits`-bit modulus: not a valid key (making a real
    16384-bit one takes minutes), but shaped like one."""
    half = bits // 2
    p, q = (1 << (half - 1)) | 0x2B, (1 << (half - 1)) | 0x4F
    return [0, (1 << (bits - 1)) | 1, 65537, (1 << (bits - 2)) | 3, p, q, p - 2, q - 2, 12345]


def big_rsa_pkcs1(bits: int) -> bytes:
    return seq(*(integer(value) for value in big_rsa_numbers(bits)))


def big_rsa_pkcs8(bits: int) -> bytes:
    return seq(integer(0), seq(oid(OID_RSA), NULL), octets(big_rsa_pkcs1(bits)))


def big_rsa_openssh(bits: int) -> bytes:
    _, n, e, d, p, q, _, _, iqmp = big_rsa_numbers(bits)

    def mpint(value: int) -> bytes:
        return ssh_string(value.to_bytes(value.bit_length() // 8 + 1, "big"))

    public = ssh_string(b"ssh-rsa") + mpint(e) + mpint(n)
    private = struct.pack(">II", 7, 7) + ssh_string(b"ssh-rsa")
    private += mpint(n) + mpint(e) + mpint(d) + mpint(iqmp) + mpint(p) + mpint(q)
    private += ssh_string(b"")
    private += bytes(range(1, (-len(private)) % 8 + 1))  # OpenSSH's padding: 1, 2, 3...
    blob = b"openssh-key-v1\0" + ssh_string(b"none") + ssh_string(b"none") + ssh_string(b"")
    blob += struct.pack(">I", 1) + ssh_string(public) + ssh_string(private)
    return openssh_text(blob)


def big_dsa_pkcs8(bits: int) -> bytes:
    """A DSA PrivateKeyInfo with a `bits`-bit p: loading one computes g^x mod p."""
    p, q, g, x = (1 << bits) - 1, (1 << 255) + 1, (1 << (bits - 3)) + 5, (1 << (bits - 2)) + 9
    algorithm = seq(oid(OID_DSA), seq(integer(p), integer(q), integer(g)))
    return seq(integer(0), algorithm, octets(integer(x)))


# --- helpers --------------------------------------------------------------------------------


def refusal(source: object, password: bytes | None = PASSWORD) -> tuple[str, float]:
    """The message of the InvalidPrivateKeyError that loading `source` raises, and the time
    it took; checks the error chains nothing."""
    start = time.perf_counter()
    with pytest.raises(InvalidPrivateKeyError) as caught:
        load_private_key(source, password=password)
    elapsed = time.perf_counter() - start
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None
    return str(caught.value), elapsed


def timed(load: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = load()
    return result, time.perf_counter() - start


@pytest.fixture(scope="module")
def ed_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


# --- the reproductions from the issue -------------------------------------------------------


@no_hang
def test_openssh_bcrypt_rounds_of_2_32_minus_1_are_refused_at_once(
    ed_key: ed25519.Ed25519PrivateKey,
) -> None:
    hostile = with_rounds(openssh_key(ed_key), 2**32 - 1)
    assert len(hostile) < 600  # the key was 444 bytes
    message, elapsed = refusal(hostile)
    assert elapsed < QUICK
    assert "bcrypt rounds" in message
    assert "4294967295" in message
    assert str(BCRYPT_ROUNDS_CAP) in message
    assert "ssh-keygen -p" in message


@no_hang
def test_pbkdf2_iterations_of_2_31_minus_1_are_refused_at_once() -> None:
    message, elapsed = refusal(pem(pbkdf2_key(None, 2**31 - 1)))
    assert elapsed < QUICK
    assert "PBKDF2 iterations" in message
    assert "2147483647" in message
    assert f"{ITERATIONS_CAP}" in message
    assert "BestAvailableEncryption" in message


@no_hang
def test_scrypt_n_of_2_24_is_refused_before_any_memory_is_used() -> None:
    message, elapsed = refusal(pem(scrypt_key(None, 2**24, 8, 1)))
    assert elapsed < QUICK
    assert "scrypt N" in message
    assert "16777216" in message
    assert str(SCRYPT_N_CAP) in message


@no_hang
@pytest.mark.parametrize("iterations", [2**32 + 1, 2**40, 2**63, 2**64 + 5])
def test_iteration_counts_past_2_32_are_typed_errors_not_panics(iterations: int) -> None:
    # cryptography panics (pyo3's PanicException, a BaseException) on 2**32 + 1.
    message, elapsed = refusal(pem(pbkdf2_key(None, iterations)))
    assert elapsed < QUICK
    assert "PBKDF2 iterations" in message
    assert str(iterations) in message


@no_hang
@pytest.mark.parametrize(
    ("n", "r", "p", "words"),
    [
        (3, 8, 1, "power of two"),
        (0, 8, 1, "scrypt N"),
        (1, 8, 1, "scrypt N"),
        (-1024, 8, 1, "scrypt N"),
        (1024, 0, 1, "scrypt r"),
        (1024, 8, 0, "scrypt p"),
        (2**16, 1, 1, "scrypt N"),  # N must be below 2**(16 r)
        (2**40, 8, 1, "scrypt N"),
        (1024, 8, 2**33, "scrypt p"),
    ],
)
def test_bad_scrypt_parameters_are_typed_errors_not_internal_errors(
    n: int, r: int, p: int, words: str
) -> None:
    # cryptography raises InternalError ("Unknown OpenSSL error") on each of these.
    message, elapsed = refusal(pem(scrypt_key(None, n, r, p)))
    assert elapsed < QUICK
    assert words in message


@no_hang
@pytest.mark.parametrize("form", ["pkcs1 pem", "pkcs8 pem", "pkcs1 der", "pkcs8 der", "openssh"])
def test_an_rsa_key_over_8192_bits_is_refused_before_validation(form: str) -> None:
    source = {
        "pkcs1 pem": pem(big_rsa_pkcs1(16384), "RSA PRIVATE KEY"),
        "pkcs8 pem": pem(big_rsa_pkcs8(16384), "PRIVATE KEY"),
        "pkcs1 der": big_rsa_pkcs1(16384),
        "pkcs8 der": big_rsa_pkcs8(16384),
        "openssh": big_rsa_openssh(16384),
    }[form]
    message, elapsed = refusal(source, password=None)
    assert elapsed < QUICK
    assert "RSA-16384" in message
    assert str(RSA_BITS_CAP) in message


@no_hang
def test_an_encrypted_rsa_key_over_8192_bits_is_refused_after_decrypting_only() -> None:
    # 9216 bits still fits in the 5 KiB an encrypted key may take: its size shows only
    # once decrypted, and is refused then, before cryptography checks the key.
    hostile = pem(pbkdf2_key(big_rsa_pkcs8(9216), 1000))
    message, elapsed = refusal(hostile)
    assert elapsed < QUICK
    assert "RSA-9216" in message
    larger = pem(pbkdf2_key(big_rsa_pkcs8(16384), 1000))
    message, elapsed = refusal(larger)
    assert elapsed < QUICK
    assert "over the cap of 5120" in message  # too large to hold any accepted key


@pytest.mark.slow  # real KDF work or a subprocess
def test_an_rsa_modulus_of_8192_bits_is_not_refused_for_its_size() -> None:
    # Not a valid key, so refused; but by the check of its numbers, not by its size.
    message, _ = refusal(pem(big_rsa_pkcs1(8192), "RSA PRIVATE KEY"), password=None)
    assert "RSA-8192" not in message
    assert "8192 bits" not in message


@no_hang
def test_a_dsa_key_with_a_huge_modulus_is_refused_before_loading() -> None:
    # Loading one computes g^x mod p: about 5 s for a 32768-bit p, minutes near 64 KB.
    message, elapsed = refusal(pem(big_dsa_pkcs8(32768), "PRIVATE KEY"), password=None)
    assert elapsed < QUICK
    assert "DSA" in message
    assert "32768" in message


# --- every other cap, and one past it -------------------------------------------------------


@pytest.mark.parametrize(
    ("der", "words"),
    [
        (pbkdf2_key(None, ITERATIONS_CAP + 1), f"PBKDF2 iterations = {ITERATIONS_CAP + 1}"),
        (pbkdf2_key(None, 0), "PBKDF2 iterations"),
        (pbkdf2_key(None, -5), "PBKDF2 iterations"),
        (pbe_key(ITERATIONS_CAP + 1), f"PBE iterations = {ITERATIONS_CAP + 1}"),
        (pbe_key(2**32 - 1, OID_PBE_MD5_DES), "PBE iterations = 4294967295"),
        (pbe_key(0, OID_PBE_MD5_DES), "PBE iterations"),  # InternalError in cryptography
        (scrypt_key(None, 2 * SCRYPT_N_CAP, 8, 1), "scrypt N"),
        (scrypt_key(None, 1024, SCRYPT_R_CAP + 1, 1), f"scrypt r = {SCRYPT_R_CAP + 1}"),
        (scrypt_key(None, 1024, 1, SCRYPT_P_CAP + 1), f"scrypt p = {SCRYPT_P_CAP + 1}"),
        (scrypt_key(None, 2**17, 8, 1), "scrypt memory"),
        (scrypt_key(None, 2**16, 8, 2), "scrypt memory"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_parameter_past_its_cap_is_named(der: bytes, words: str) -> None:
    for source in (pem(der), der):
        message, elapsed = refusal(source)
        assert elapsed < QUICK
        assert words in message, message


def test_an_unknown_kdf_is_refused_not_run() -> None:
    kdf = seq(oid("1.3.6.1.4.1.99999.1"), seq(octets(SALT), integer(2**40)))
    message, _ = refusal(pem(pbes2(kdf, bytes(64))))
    assert "PBKDF2 or scrypt" in message


def test_the_caps_are_the_documented_values() -> None:
    _keycost = importlib.import_module("kalshi_auth._keycost")  # new with the caps
    assert _keycost.MAX_BCRYPT_ROUNDS == BCRYPT_ROUNDS_CAP
    assert _keycost.MAX_ITERATIONS == ITERATIONS_CAP
    assert _keycost.MAX_SCRYPT_N == SCRYPT_N_CAP
    assert _keycost.MAX_SCRYPT_R == SCRYPT_R_CAP
    assert _keycost.MAX_SCRYPT_P == SCRYPT_P_CAP
    assert _keycost.MAX_SCRYPT_MEMORY == SCRYPT_MEMORY_CAP
    assert _keycost.MAX_MODULUS_BITS == RSA_BITS_CAP


@no_hang
def test_openssh_rounds_one_past_the_cap_are_refused(ed_key: ed25519.Ed25519PrivateKey) -> None:
    message, elapsed = refusal(with_rounds(openssh_key(ed_key), BCRYPT_ROUNDS_CAP + 1))
    assert elapsed < QUICK
    assert f"bcrypt rounds = {BCRYPT_ROUNDS_CAP + 1}" in message


# --- what real tools write still loads, up to each cap --------------------------------------


@pytest.mark.slow  # real KDF work or a subprocess
def test_keys_at_the_caps_load(ed_key: ed25519.Ed25519PrivateKey) -> None:
    plain = pkcs8_der(ed_key)
    at_caps = {
        "bcrypt rounds": openssh_key(ed_key, BCRYPT_ROUNDS_CAP),
        "PBKDF2-SHA512 iterations": pem(pbkdf2_key(plain, ITERATIONS_CAP, prf="sha512")),
        "PBKDF2-SHA1 iterations": pem(pbkdf2_key(plain, ITERATIONS_CAP, prf="sha1")),
        "scrypt memory": pem(scrypt_key(plain, 2**16, 8, 1)),
        "scrypt N": pem(scrypt_key(plain, SCRYPT_N_CAP, 2, 1)),
        "scrypt p": pem(scrypt_key(plain, 2**10, 4, SCRYPT_P_CAP)),
        "scrypt r": pem(scrypt_key(plain, 2**10, SCRYPT_R_CAP, 1)),
    }
    for name, text in at_caps.items():
        start = time.perf_counter()
        auth = KalshiAuth(KEY_ID, text, password=PASSWORD)
        elapsed = time.perf_counter() - start
        assert signs_verifiably(auth, ed_key), name
        assert elapsed < 5, (name, elapsed)


@pytest.mark.slow  # real KDF work or a subprocess
@pytest.mark.parametrize("fmt", ["pkcs8", "openssh"])
def test_best_available_encryption_loads(
    kalshi_rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey, fmt: str
) -> None:
    private_format = (
        serialization.PrivateFormat.PKCS8 if fmt == "pkcs8" else serialization.PrivateFormat.OpenSSH
    )
    for key in (kalshi_rsa_key, ed_key):
        text = key.private_bytes(
            serialization.Encoding.PEM,
            private_format,
            serialization.BestAvailableEncryption(PASSWORD),
        )
        assert signs_verifiably(KalshiAuth(KEY_ID, text, password=PASSWORD), key)


@pytest.mark.slow  # real KDF work or a subprocess
@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
@pytest.mark.parametrize("rounds", [None, 100])
def test_ssh_keygen_keys_load_with_default_and_100_rounds(
    tmp_path: Path, rounds: int | None
) -> None:
    path = tmp_path / "id_ed25519"
    extra = [] if rounds is None else ["-a", str(rounds)]
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", *extra, "-N", "s3cret", "-C", "", "-f", str(path)],
        check=True,
        timeout=60,
    )
    auth = KalshiAuth(KEY_ID, path, password="s3cret")
    public = serialization.load_ssh_public_key(path.with_suffix(".pub").read_bytes())
    assert signs_verifiably(auth, public)


@pytest.mark.slow  # real KDF work or a subprocess
@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
@pytest.mark.parametrize(
    "args",
    [
        ["-v2", "aes-256-cbc"],
        ["-v2", "aes-256-cbc", "-iter", str(ITERATIONS_CAP)],
        ["-scrypt"],
        ["-v1", "PBE-SHA1-3DES", "-iter", str(ITERATIONS_CAP)],
    ],
    ids=["pbkdf2-default", "pbkdf2-at-cap", "scrypt-default", "pkcs12-pbe-at-cap"],
)
def test_openssl_pkcs8_keys_load(
    tmp_path: Path, ed_key: ed25519.Ed25519PrivateKey, args: list[str]
) -> None:
    plain = tmp_path / "plain.pem"
    plain.write_bytes(pem(pkcs8_der(ed_key), "PRIVATE KEY"))
    out = tmp_path / "encrypted.pem"
    command = ["openssl", "pkcs8", "-topk8", "-in", str(plain), "-out", str(out)]
    done = subprocess.run(
        [*command, "-passout", "pass:pw", *args],
        capture_output=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"this openssl cannot write it: {done.stderr.decode()[:100]}")
    assert signs_verifiably(KalshiAuth(KEY_ID, out, password=PASSWORD), ed_key)


# --- what the crypto backend raises becomes a typed error -----------------------------------


def backend_panic_type() -> type[BaseException]:
    """pyo3's PanicException (a BaseException, not an Exception), as cryptography raises it
    for an iteration count past 2**32; a stand-in if this cryptography no longer panics."""
    try:
        serialization.load_der_private_key(pbkdf2_key(None, 2**32 + 1), PASSWORD)
    except BaseException as exc:
        if type(exc).__name__ == "PanicException":
            return type(exc)
    return type("PanicException", (BaseException,), {"__module__": "pyo3_runtime"})


BACKEND_ERRORS: dict[str, Callable[[], BaseException]] = {
    "PanicException": lambda: backend_panic_type()("called `Result::unwrap()` on an `Err`"),
    "InternalError": lambda: InternalError("Unknown OpenSSL error", []),
    "RuntimeError": lambda: RuntimeError("surprise"),
    "OverflowError": lambda: OverflowError("int too big"),
    "MemoryError": MemoryError,
    "UnsupportedAlgorithm": lambda: UnsupportedAlgorithm("no"),
}


@pytest.mark.parametrize("error", sorted(BACKEND_ERRORS))
@pytest.mark.parametrize("loader", ["load_pem_private_key", "load_der_private_key"])
def test_every_backend_failure_becomes_invalid_private_key_error(
    monkeypatch: pytest.MonkeyPatch,
    kalshi_rsa_key: rsa.RSAPrivateKey,
    error: str,
    loader: str,
) -> None:
    def failing(*args: object, **kwargs: object) -> object:
        raise BACKEND_ERRORS[error]()

    monkeypatch.setattr(serialization, loader, failing)
    der = pkcs8_der(kalshi_rsa_key)
    source = der if loader == "load_der_private_key" else pem(der, "PRIVATE KEY")
    message, _ = refusal(source, password=None)
    assert "surprise" not in message
    assert "OpenSSL" not in message


def test_a_panic_while_loading_an_openssh_key_is_a_typed_error(
    monkeypatch: pytest.MonkeyPatch, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    panic = backend_panic_type()

    def failing(*args: object, **kwargs: object) -> object:
        raise panic("boom")

    monkeypatch.setattr(serialization, "load_ssh_private_key", failing)
    refusal(openssh_key(ed_key))


@pytest.mark.parametrize(
    "interrupt",
    [
        KeyboardInterrupt(),
        SystemExit(3),
        GeneratorExit(),
        type("Cancelled", (BaseException,), {})(),
    ],
    ids=lambda error: type(error).__name__,
)
def test_interrupts_pass_through_untouched(
    monkeypatch: pytest.MonkeyPatch, kalshi_rsa_key: rsa.RSAPrivateKey, interrupt: BaseException
) -> None:
    def interrupted(*args: object, **kwargs: object) -> object:
        raise interrupt

    monkeypatch.setattr(serialization, "load_pem_private_key", interrupted)
    with pytest.raises(type(interrupt)) as caught:
        load_private_key(pem(pkcs8_der(kalshi_rsa_key), "PRIVATE KEY"))
    assert caught.value is interrupt


# --- inspect-key ----------------------------------------------------------------------------


@no_hang
@pytest.mark.parametrize(
    ("name", "make", "words"),
    [
        ("rounds", lambda k: with_rounds(openssh_key(k), 2**32 - 1), "bcrypt rounds"),
        ("pbkdf2", lambda k: pem(pbkdf2_key(None, 2**31 - 1)), "PBKDF2 iterations"),
        ("panic", lambda k: pem(pbkdf2_key(None, 2**32 + 1)), "PBKDF2 iterations"),
        ("scrypt", lambda k: pem(scrypt_key(None, 2**24, 8, 1)), "scrypt N"),
        ("scrypt-n-3", lambda k: pem(scrypt_key(None, 3, 8, 1)), "scrypt N"),
        ("rsa", lambda k: pem(big_rsa_pkcs1(16384), "RSA PRIVATE KEY"), "RSA-16384"),
        ("rsa-ssh", lambda k: big_rsa_openssh(16384), "RSA-16384"),
        ("dsa", lambda k: pem(big_dsa_pkcs8(32768), "PRIVATE KEY"), "DSA"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_inspect_key_reports_each_refusal_quickly(
    ed_key: ed25519.Ed25519PrivateKey,
    name: str,
    make: Callable[[ed25519.Ed25519PrivateKey], bytes],
    words: str,
) -> None:
    password = None if name in ("rsa", "rsa-ssh", "dsa") else "pw"  # those are not encrypted
    report, elapsed = timed(lambda: inspect_key(make(ed_key), password=password))
    assert isinstance(report, KeyReport)
    assert elapsed < QUICK
    assert not report.usable
    assert words in (report.problem or ""), report.problem
    assert report.fix is not None
    assert "bcrypt package" not in report.fix
    assert "kalshi-auth[openssh]" not in report.fix


@no_hang
def test_inspect_key_fix_names_the_file(ed_key: ed25519.Ed25519PrivateKey) -> None:
    report = inspect_key(
        with_rounds(openssh_key(ed_key), 2**32 - 1), password="pw", name="my key.pem"
    )
    assert report.fix is not None
    assert "ssh-keygen -p -a 16 -f 'my key.pem'" in report.fix


def test_inspect_key_still_names_a_refused_key_type() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    locked = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSWORD),
    )
    report = inspect_key(locked, password="pw")
    assert report.key_type == "EC (secp256r1) private key"
    assert report.fingerprint is not None


@pytest.mark.slow  # real KDF work or a subprocess
@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: pem(pbkdf2_key(None, 2**32 + 1)), "PBKDF2 iterations"),  # a panic, once
        (lambda: pem(scrypt_key(None, 3, 8, 1)), "scrypt N"),  # InternalError, once
    ],
)
def test_inspect_key_command_prints_no_traceback(
    tmp_path: Path, make: Callable[[], bytes], words: str
) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(make())
    done = run("inspect-key", str(path), env={"KALSHI_PRIVATE_KEY_PASSWORD": "pw"})
    assert "Traceback" not in done.stdout + done.stderr
    assert "panicked" not in done.stderr
    assert done.returncode == 1, done.stdout + done.stderr
    info = fields(done.stdout)
    assert info["usable"] == "no"
    assert words in info["problem"]


# --- fuzzed: encrypted keys with their parameters and bytes mutated -------------------------

_FUZZ_KEY = ed25519.Ed25519PrivateKey.generate()
_FUZZ_PLAIN = pkcs8_der(_FUZZ_KEY)
EXTREMES = [0, 1, 2, 3, 2**15, 2**16, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**32 + 1, 2**63, 2**64]
EXTREMES += [-1, -(2**31), ITERATIONS_CAP + 1, SCRYPT_N_CAP * 2, BCRYPT_ROUNDS_CAP + 1]


def cheap_or_extreme(small: int) -> st.SearchStrategy[int]:
    """A parameter value: small enough to run at once, or one no tool writes."""
    return st.one_of(st.integers(1, small), st.sampled_from(EXTREMES))


@st.composite
def encrypted_keys(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["pbkdf2", "scrypt", "pbe", "openssh"]))
    salt = draw(st.sampled_from([SALT, b"", b"s", SALT * 64]))  # lengths mutated too
    if kind == "openssh":
        u32 = [0, 2**16, 2**31 - 1, 2**31, 2**32 - 1, BCRYPT_ROUNDS_CAP + 1]  # rounds are a uint32
        rounds = draw(st.one_of(st.integers(1, 4), st.sampled_from(u32)))
        blob = openssh_blob(with_rounds(_FUZZ_OPENSSH, rounds))
    elif kind == "pbkdf2":
        prf = draw(st.sampled_from(sorted(HMAC_OIDS)))
        iterations = draw(cheap_or_extreme(2000))
        real = 1 <= iterations <= 2000 and draw(st.booleans())
        blob = pbkdf2_key(_FUZZ_PLAIN if real else None, iterations, prf, salt)
    elif kind == "scrypt":
        n, r, p = draw(cheap_or_extreme(1024)), draw(cheap_or_extreme(8)), draw(st.integers(1, 4))
        if draw(st.booleans()):
            p = draw(st.sampled_from(EXTREMES))
        blob = scrypt_key(None, n, r, p, salt)
    else:
        blob = pbe_key(draw(cheap_or_extreme(2000)))
    mutated = bytearray(blob)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(mutated) - 1))
        action = draw(st.sampled_from(["flip", "set", "delete", "insert"]))
        if action == "flip":
            mutated[at] ^= 1 << draw(st.integers(0, 7))
        elif action == "set":
            mutated[at] = draw(st.sampled_from([0x00, 0x7F, 0x80, 0x81, 0x84, 0xFF]))
        elif action == "delete":
            del mutated[at]
        else:
            mutated.insert(at, draw(st.integers(0, 255)))
    if kind == "openssh":
        return openssh_text(bytes(mutated))
    return pem(bytes(mutated)) if draw(st.booleans()) else bytes(mutated)


_FUZZ_OPENSSH = openssh_key(_FUZZ_KEY, rounds=1)


@no_hang
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=encrypted_keys())
def test_fuzzed_encrypted_keys_load_or_raise_a_typed_error_quickly(source: bytes) -> None:
    start = time.perf_counter()
    try:
        load_private_key(source, password=PASSWORD)
    except KalshiAuthError as exc:
        assert exc.__context__ is None
        assert exc.__cause__ is None
    assert time.perf_counter() - start < QUICK


@no_hang
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=encrypted_keys())
def test_fuzzed_encrypted_keys_through_inspect_key(source: bytes) -> None:
    report, elapsed = timed(lambda: inspect_key(source, password="pw"))
    assert isinstance(report, KeyReport)
    assert report.usable or report.problem
    assert elapsed < 2 * QUICK


# --- what an encrypted key holds is unknown until it is decrypted: bounded by its size --------


def _tlv(tag: int, value: bytes) -> bytes:
    size = len(value)
    if size < 0x80:
        return bytes([tag, size]) + value
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets + value


def _first_child(der: bytes) -> bytes:
    """The first element inside a DER SEQUENCE, whole (tag, length and value)."""
    start = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)
    length_byte = der[start + 1]
    if length_byte & 0x80:
        count = length_byte & 0x7F
        size = int.from_bytes(der[start + 2 : start + 2 + count], "big")
        return der[start : start + 2 + count + size]
    return der[start : start + 2 + length_byte]


@pytest.mark.parametrize("payload", [5_200, 20_000])
def test_an_encrypted_key_larger_than_any_accepted_key_is_refused_before_decrypting(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey, payload: int
) -> None:
    real = kalshi_ed25519_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    # The same encryption parameters around a payload no accepted key needs: what it holds
    # (a DSA key whose load computes g^x mod p for seconds) shows only once decrypted.
    big = _tlv(0x30, _first_child(real) + _tlv(0x04, os.urandom(payload)))
    for source in (big, pem(big)):
        with pytest.raises(InvalidPrivateKeyError, match="over the cap of 5120"):
            load_private_key(source, password="pw")


@pytest.mark.parametrize(
    ("label", "words"),
    [
        ("PRIVATE KEY", "legacy OpenSSL encryption"),
        ("DSA PRIVATE KEY", "Kalshi accepts only RSA"),
        ("EC PRIVATE KEY", "Kalshi accepts only RSA"),
    ],
)
def test_legacy_encryption_is_opened_for_rsa_keys_only(label: str, words: str) -> None:
    body = base64.b64encode(os.urandom(3000)).decode()
    text = (
        f"-----BEGIN {label}-----\nProc-Type: 4,ENCRYPTED\n"
        "DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n"
        + "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        + f"\n-----END {label}-----\n"
    )
    with pytest.raises(InvalidPrivateKeyError, match=words):  # refused before decrypting
        load_private_key(text, password="pw")
