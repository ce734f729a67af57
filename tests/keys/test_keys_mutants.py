"""Key loading's messages and bounds, each held to its exact words: what a string, bytes, a
file or an object that is not a key is called; which paths are named and which only
described; the size limit of a key file, at its boundary. Each test is one a mutant of
`kalshi_auth._keys` changed the answer of (docs/quality.md)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from kalshi_auth import InvalidPrivateKeyError, KalshiAuthError, PrivateKeyPasswordError
from kalshi_auth._keys import (
    MAX_KEY_BYTES,
    has_key_file_name,
    key_kind,
    load_key_file,
    load_private_key,
    open_private_key,
    path_shown,
)
from kalshi_auth.testing import private_key_pem
from tests.keys.test_key_decryption_bounds import (
    big_rsa_pkcs1,
    big_rsa_pkcs8,
    integer,
    openssh_blob,
    openssh_key,
    openssh_text,
    pbkdf2_key,
    pem,
    seq,
    with_rounds,
)
from tests.keys.test_keys import self_signed_certificate

EXPECTED_IN_FILE = (
    "a key file is text that starts with -----BEGIN RSA PRIVATE KEY----- or "
    "-----BEGIN PRIVATE KEY-----: pass the private key file Kalshi gave you"
)
DASHES_HINT = "; if it is a key, its dashes may have been changed"
FILE_DASHES_HINT = " (if it is a key, its dashes may have been changed)"
OPENSSH_PUBLIC = "private key is an OpenSSH public key; pass the private key Kalshi gave you"
BARE_BODY = (
    "private key looks like a bare base64 key body without its PEM lines; add the "
    "-----BEGIN RSA PRIVATE KEY----- (or -----BEGIN PRIVATE KEY-----) line before it "
    "and the matching -----END ...----- line after it"
)


def error_of(load: Callable[[], object]) -> str:
    with pytest.raises(KalshiAuthError) as caught:
        load()
    return str(caught.value)


def no_armor(size: int, hidden: str = "", dashes: str = DASHES_HINT) -> str:
    """The message for a str that is neither PEM nor a file (`_no_armor_message`)."""
    return (
        "private key is neither PEM text nor the path of an existing file: got a "
        f"{size}-character string{hidden} with no -----BEGIN ...----- line. Pass the key "
        "file Kalshi gave you, starting with -----BEGIN RSA PRIVATE KEY----- or "
        f"-----BEGIN PRIVATE KEY-----, or the path of that file{dashes} (an editor may "
        "turn ----- into a long dash)"
    )


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The current directory, changed to an empty one, as messages quote it."""
    monkeypatch.chdir(tmp_path)
    return repr(os.getcwd())


# --- a str that is not PEM --------------------------------------------------------------


def test_a_str_without_armor_or_path_marks_is_described_with_the_dashes_hint() -> None:
    assert error_of(lambda: load_private_key("hello world")) == no_armor(11)
    # four dashes are not PEM's five: the hint stays
    assert error_of(lambda: load_private_key("----hello")) == no_armor(9)


def test_a_str_with_five_dashes_gets_no_dashes_hint() -> None:
    assert error_of(lambda: load_private_key("-----hello")) == no_armor(10, dashes="")


@pytest.mark.parametrize(
    "text",
    ["keys/" + "A" * 16, "keys\\" + "A" * 16, "~" + "A" * 16, "A" * 16 + ".pem"],
    ids=["slash", "backslash", "tilde", "key file name"],
)
def test_a_str_with_a_paths_marks_that_could_be_key_text_is_described_with_the_directory(
    text: str, cwd: str
) -> None:
    hidden = (
        " (not shown: it could be key text; if it is a path, no file is there: a relative "
        f"path is resolved from the current directory, {cwd})"
    )
    assert error_of(lambda: load_private_key(text)) == no_armor(len(text), hidden)


def test_a_str_without_a_paths_marks_is_not_said_to_be_a_path(cwd: str) -> None:
    text = "A" * 16 + "!"
    assert error_of(lambda: load_private_key(text)) == no_armor(17)


def test_a_str_naming_nothing_that_the_system_cannot_look_up_is_described() -> None:
    # a NUL: the path cannot exist, so the text is judged as key text
    assert error_of(lambda: load_private_key("a\x00b")) == no_armor(3)


@pytest.mark.parametrize(
    "text",
    ["ssh-rsa AAAAB3NzaC1yc2E", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "ecdsa-sha2-nistp256 AAAA"],
)
def test_an_openssh_public_key_is_named_as_one(text: str) -> None:
    assert error_of(lambda: load_private_key(text)) == OPENSSH_PUBLIC
    assert error_of(lambda: load_private_key(text.encode())) == OPENSSH_PUBLIC


def test_a_bare_base64_body_is_recognised_from_100_characters() -> None:
    assert error_of(lambda: load_private_key("A" * 100)) == BARE_BODY
    assert error_of(lambda: load_private_key(("A" * 100).encode())) == BARE_BODY
    assert error_of(lambda: load_private_key("A" * 99)) == no_armor(99)


def test_text_over_the_limit_is_refused_by_its_size() -> None:
    text = "-----" + "A" * MAX_KEY_BYTES
    assert error_of(lambda: load_private_key(text)) == (
        f"private key is {len(text)} characters, far more than a key ({MAX_KEY_BYTES} at most); "
        "pass the key file Kalshi gave you"
    )
    data = b"A" * (MAX_KEY_BYTES + 1)
    assert error_of(lambda: load_private_key(data)) == (
        f"private key is {MAX_KEY_BYTES + 1} bytes, far more than a key ({MAX_KEY_BYTES} at "
        "most); pass the key file Kalshi gave you"
    )


# --- bytes that are not PEM -------------------------------------------------------------


def test_empty_bytes_are_called_empty() -> None:
    assert error_of(lambda: load_private_key(b"")) == f"private key is empty; {EXPECTED_IN_FILE}"
    assert error_of(lambda: load_private_key(b" \n\t")) == (
        f"private key is empty (whitespace only); {EXPECTED_IN_FILE}"
    )


def test_bytes_with_control_characters_are_binary() -> None:
    assert error_of(lambda: load_private_key(b"hello\x01world")) == (
        "private key is binary data (it holds control characters), not PEM text; "
        + EXPECTED_IN_FILE
    )


def test_text_bytes_are_text_with_or_without_the_dashes_hint() -> None:
    # tabs, line ends, form feeds and a BOM are what text holds, not binary
    assert error_of(lambda: load_private_key(b"\xef\xbb\xbfhello\tworld\r\n\f\v")) == (
        f"private key is text with no -----BEGIN ...----- line, not PEM{FILE_DASHES_HINT}; "
        + EXPECTED_IN_FILE
    )
    assert error_of(lambda: load_private_key(b"-----hello")) == (
        f"private key is text with no -----BEGIN ...----- line, not PEM; {EXPECTED_IN_FILE}"
    )
    assert error_of(lambda: load_private_key(b"----hello")) == (
        f"private key is text with no -----BEGIN ...----- line, not PEM{FILE_DASHES_HINT}; "
        + EXPECTED_IN_FILE
    )


def test_utf16_bytes_are_called_utf16_text() -> None:
    assert error_of(lambda: load_private_key("hello".encode("utf-16"))) == (
        "private key is UTF-16 text with no -----BEGIN ...----- line, not PEM"
        f"{FILE_DASHES_HINT}; {EXPECTED_IN_FILE}"
    )


def test_a_file_that_is_not_pem_is_called_by_its_path(tmp_path: Path) -> None:
    path = tmp_path / "kalshi.pem"
    path.write_bytes(b"hello")
    assert error_of(lambda: load_private_key(path)) == (
        f"private key file {str(path)!r} is text with no -----BEGIN ...----- line, not PEM"
        f"{FILE_DASHES_HINT}; {EXPECTED_IN_FILE}"
    )


def test_der_refused_for_its_size_is_called_private_key() -> None:
    assert error_of(lambda: load_private_key(big_rsa_pkcs1(16384))).startswith(
        "private key is RSA-16384, over the 8192 bits kalshi-auth reads"
    )


# --- paths and files --------------------------------------------------------------------


def test_a_missing_absolute_path_is_named_without_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "missing.pem"
    assert error_of(lambda: load_private_key(path)) == (
        f"private key file {str(path)!r} does not exist; check the path"
    )


def test_a_missing_relative_path_is_named_with_the_directory(cwd: str) -> None:
    assert error_of(lambda: load_private_key(Path("missing.pem"))) == (
        "private key file 'missing.pem' does not exist (relative to the current directory, "
        f"{cwd}); check the path"
    )


def test_a_missing_path_that_could_be_key_text_is_only_described(cwd: str) -> None:
    assert error_of(lambda: load_private_key(Path("A" * 20))) == (
        "private key file does not exist: no file at the path given (20 characters, not "
        "shown: it could be key text; a relative path is resolved from the current "
        f"directory, {cwd}); check the path"
    )


def test_a_current_directory_that_was_removed_is_said_to_be_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert error_of(lambda: load_private_key(Path("missing.pem"))) == (
        "private key file 'missing.pem' does not exist (relative to the current directory, "
        "which no longer exists); check the path"
    )


def test_a_directory_is_named_with_the_directory_it_is_relative_to(cwd: str) -> None:
    Path("keys").mkdir()
    assert error_of(lambda: load_private_key(Path("keys"))) == (
        f"private key path 'keys' is a directory (relative to the current directory, {cwd}); "
        "name the key file inside it"
    )
    absolute = Path("keys").resolve()
    assert error_of(lambda: load_private_key(absolute)) == (
        f"private key path {str(absolute)!r} is a directory; name the key file inside it"
    )


def test_a_path_that_cannot_be_looked_up_is_described() -> None:
    assert error_of(lambda: load_private_key(Path("a\x00b"))) == (
        "private key path (3 characters) cannot be looked up: it is too long or holds a NUL "
        "or other invalid character; check the path"
    )


def test_a_file_one_byte_over_the_limit_is_refused_and_named_in_full(tmp_path: Path) -> None:
    path = tmp_path / ("k" * 100 + ".pem")  # a path longer than 120 characters
    path.write_bytes(b" " * (MAX_KEY_BYTES + 1))
    assert error_of(lambda: load_private_key(path)) == (
        f"private key file {str(path)!r} is not a regular file of at most {MAX_KEY_BYTES} "
        "bytes (a FIFO, device, socket, or a file too large to be a key); pass the key "
        "file Kalshi gave you"
    )


def test_a_key_file_of_exactly_the_limit_is_read_whole(
    tmp_path: Path, kalshi_rsa_key: rsa.RSAPrivateKey
) -> None:
    # ending in -----END RSA PRIVATE KEY----- with no newline: one byte lost breaks it
    pem = private_key_pem(kalshi_rsa_key, encoding="pkcs1").rstrip(b"\n")
    path = tmp_path / "kalshi.pem"
    path.write_bytes(b"\n" * (MAX_KEY_BYTES - len(pem)) + pem)
    assert path.stat().st_size == MAX_KEY_BYTES
    loaded = load_private_key(path)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    assert loaded.private_numbers() == kalshi_rsa_key.private_numbers()


class _WeirdPath:
    def __fspath__(self) -> int:
        return 7


def test_a_pathlike_returning_neither_str_nor_bytes_is_named_by_its_type() -> None:
    assert error_of(lambda: load_private_key(_WeirdPath())) == (
        "private key path: _WeirdPath.__fspath__() returned neither str nor bytes; pass a "
        "pathlib.Path or a str"
    )


# --- what path_shown names --------------------------------------------------------------


def test_a_path_of_260_characters_is_shown_whole_and_261_not_at_all() -> None:
    text = "abc/" * 64 + "x.pe"
    assert len(text) == 260
    assert path_shown(text) == repr(text)
    assert path_shown(text + "m") is None


@pytest.mark.parametrize(
    "text", ["keys/a\r.pem", "keys/a\n.pem", "keys/-----.pem", "keys/MIab.pem", "keys/MCab.pem"]
)
def test_paths_that_could_hold_key_text_are_not_shown(text: str) -> None:
    assert path_shown(text) is None


def test_a_last_run_of_fifteen_is_shown_and_sixteen_not() -> None:
    # (the - makes these more than base64 characters)
    assert path_shown("my-keys/" + "a" * 15) == repr("my-keys/" + "a" * 15)
    assert path_shown("my-keys/" + "a" * 16) is None
    assert path_shown("my-keys/MIa") == repr("my-keys/MIa")  # three characters: no key starts so


# --- objects and other entry points ------------------------------------------------------


def accepts(name: str) -> str:
    return f"got {name}; Kalshi accepts RSA (2048 bits or more) and Ed25519 private keys"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: ec.generate_private_key(ec.SECP256R1()),
            accepts("an elliptic-curve (EC) private key"),
        ),
        (lambda: dsa.generate_private_key(1024), accepts("a DSA private key")),
        (
            ed448.Ed448PrivateKey.generate,
            accepts("a private key of a type Kalshi does not use"),
        ),
        (
            lambda: ec.generate_private_key(ec.SECP256R1()).public_key(),
            accepts("a public key; signing needs the private key"),
        ),
        (
            lambda: 42,
            "private key must be PEM text (str or bytes), a path to a key file, or a "
            "cryptography RSA or Ed25519 private key object; got int",
        ),
    ],
    ids=["EC", "DSA", "Ed448", "public key", "int"],
)
def test_an_object_that_is_not_a_kalshi_key_is_named(
    make: Callable[[], object], message: str
) -> None:
    obj = make()
    assert error_of(lambda: load_private_key(obj)) == message


def test_a_certificate_is_named_as_one(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    certificate = self_signed_certificate(kalshi_rsa_key)
    assert error_of(lambda: load_private_key(certificate)) == (
        "got a certificate, not a private key; pass the private key file Kalshi gave you "
        "when the API key was created"
    )


def test_load_key_file_calls_the_file_by_the_name_given() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = private_key_pem(small, encoding="pkcs1")
    assert error_of(
        lambda: load_key_file(pem, password=None, where="kalshi.pem (1 KB)")
    ).startswith("kalshi.pem (1 KB) is RSA-1024; Kalshi requires RSA keys of at least 2048 bits")


def test_open_private_key_opens_ec_keys_and_calls_bytes_private_key() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    opened = open_private_key(pem, password=None)
    assert isinstance(opened, ec.EllipticCurvePrivateKey)
    with pytest.raises(InvalidPrivateKeyError) as caught:
        open_private_key(b"hello", password=None)
    assert str(caught.value) == (
        f"private key is text with no -----BEGIN ...----- line, not PEM{FILE_DASHES_HINT}; "
        + EXPECTED_IN_FILE
    )


# --- DER, OpenSSH, passwords --------------------------------------------------------------

ENCRYPTED = "private key is encrypted; pass password=... (or set KALSHI_PRIVATE_KEY_PASSWORD)"
NOT_ENCRYPTED = (
    "private key is not encrypted but a password was given; drop the password "
    "(or unset KALSHI_PRIVATE_KEY_PASSWORD)"
)


def test_der_keys_load_with_their_password_and_say_which_password_is_wrong(
    kalshi_rsa_key: rsa.RSAPrivateKey,
) -> None:
    encrypted = kalshi_rsa_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    plain = kalshi_rsa_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    loaded = load_private_key(encrypted, password="pw")
    assert isinstance(loaded, rsa.RSAPrivateKey)
    assert loaded.private_numbers() == kalshi_rsa_key.private_numbers()
    assert error_of(lambda: load_private_key(encrypted)) == ENCRYPTED
    assert error_of(lambda: load_private_key(plain, password="pw")) == NOT_ENCRYPTED


def test_pem_with_a_needless_password_says_to_drop_it(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    pem = private_key_pem(kalshi_rsa_key, encoding="pkcs1")
    assert error_of(lambda: load_private_key(pem, password="pw")) == NOT_ENCRYPTED


def test_der_that_does_not_parse_is_called_binary_der() -> None:
    assert error_of(lambda: load_private_key(b"\x30\x03\x02\x01\x00")) == (
        "private key looks like binary DER (5 bytes) but does not parse as a private key; "
        "pass the PEM file Kalshi gave you"
    )


def test_der_with_changed_rsa_numbers_is_called_damaged(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    numbers = kalshi_rsa_key.private_numbers()
    public = numbers.public_numbers
    fields = [0, public.n, public.e, numbers.d + 2, numbers.p, numbers.q]
    fields += [numbers.dmp1, numbers.dmq1, numbers.iqmp]
    der = seq(*(integer(value) for value in fields))
    assert error_of(lambda: load_private_key(der)) == (
        "private key is damaged: its RSA numbers do not make a valid key (they were changed "
        "when it was copied); copy the whole file Kalshi gave you again"
    )


def test_an_openssh_key_of_an_unknown_type_is_named_so() -> None:
    plain = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    blob = openssh_blob(plain).replace(b"ssh-ed25519", b"ssh-foo2551")  # same length
    assert error_of(lambda: load_private_key(openssh_text(blob))) == (
        "private key is an OpenSSH key of a type this system's cryptography cannot load; "
        "Kalshi keys are RSA or Ed25519"
    )


def test_an_openssh_key_refused_for_its_rounds_is_called_private_key() -> None:
    text = with_rounds(openssh_key(ed25519.Ed25519PrivateKey.generate()), 1_000_000)
    assert error_of(lambda: load_private_key(text, password="pw")).startswith(
        "private key is encrypted with bcrypt rounds = 1000000, over kalshi-auth's cap of 100"
    )


def test_an_rsa_modulus_of_exactly_8192_bits_is_judged_by_its_numbers_not_its_size() -> None:
    # not a valid key (a real 8192-bit one takes long to make), but shaped like one
    assert error_of(lambda: load_private_key(big_rsa_pkcs1(8192))) == (
        "private key is damaged: its RSA numbers do not make a valid key (they were changed "
        "when it was copied); copy the whole file Kalshi gave you again"
    )


def test_an_encrypted_rsa_key_too_large_is_refused_as_private_key_once_decrypted() -> None:
    hostile = pem(pbkdf2_key(big_rsa_pkcs8(9216), 1000))
    assert error_of(lambda: load_private_key(hostile, password="pw")).startswith(
        "private key is RSA-9216, over the 8192 bits kalshi-auth reads"
    )


def test_a_damaged_openssh_body_and_a_wrong_openssh_password_are_told_apart() -> None:
    plain = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    cut = openssh_text(openssh_blob(plain)[:-40])
    assert error_of(lambda: load_private_key(cut)) == (
        "private key is an OpenSSH private key whose body does not decode: it was damaged "
        "or cut when copied; copy the whole file again"
    )
    encrypted = openssh_key(ed25519.Ed25519PrivateKey.generate(), rounds=1)
    assert error_of(lambda: load_private_key(encrypted, password="wrong")) == (
        "private key could not be decrypted: the password is wrong, or the key is damaged"
    )


def test_a_pem_label_kalshi_does_not_issue_is_named() -> None:
    text = "-----BEGIN FOO KEY-----\nQUJD\n-----END FOO KEY-----\n"
    assert error_of(lambda: load_private_key(text)) == (
        "private key cannot be used: its PEM label is 'FOO KEY', not a private key Kalshi issues"
    )


def test_a_pem_without_its_end_line_is_called_truncated() -> None:
    assert error_of(lambda: load_private_key("-----BEGIN RSA PRIVATE KEY-----\nQUJD")) == (
        "private key looks truncated: it has the -----BEGIN RSA PRIVATE KEY----- line but no "
        "-----END RSA PRIVATE KEY----- line. A .env loader that reads only the first line of a "
        "multi-line value does this; put the key in a file and use its path, or write "
        "it on one line with \\n between lines"
    )


# --- what is read as a path, as DER, as text ----------------------------------------------


def test_hex_digits_without_a_uuids_dashes_are_no_key_id() -> None:
    assert error_of(lambda: load_private_key("abcdef")) == no_armor(6)


@pytest.mark.parametrize("name", ["-----x.pem", "a\nb.pem"], ids=["dashes", "line break"])
def test_text_with_pem_dashes_or_a_line_break_is_never_read_as_a_path(
    name: str, cwd: str, kalshi_rsa_key: rsa.RSAPrivateKey
) -> None:
    Path(name).write_bytes(private_key_pem(kalshi_rsa_key, encoding="pkcs1"))
    with pytest.raises(InvalidPrivateKeyError):
        load_private_key(name)


def test_bytes_of_exactly_the_limit_are_read() -> None:
    assert error_of(lambda: load_private_key(b"A" * MAX_KEY_BYTES)) == BARE_BODY


def test_pem_after_a_leading_zero_byte_is_text_not_der(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    # b"0" is 0x30, how DER starts; PEM dashes make it text
    loaded = load_private_key(b"0" + private_key_pem(kalshi_rsa_key, encoding="pkcs1"))
    assert isinstance(loaded, rsa.RSAPrivateKey)
    assert loaded.private_numbers() == kalshi_rsa_key.private_numbers()


def test_bytes_that_are_neither_text_nor_der_are_binary() -> None:
    assert error_of(lambda: load_private_key(b"\x80\x81")) == (
        "private key is neither PEM text nor DER: 2 bytes that are not UTF-8 or UTF-16 text "
        "(binary data); expected a text file that starts with -----BEGIN RSA PRIVATE KEY----- "
        "or -----BEGIN PRIVATE KEY-----"
    )


def test_big_endian_utf16_is_utf16_text() -> None:
    data = b"\xfe\xff" + "hello".encode("utf-16-be")
    assert error_of(lambda: load_private_key(data)) == (
        "private key is UTF-16 text with no -----BEGIN ...----- line, not PEM"
        f"{FILE_DASHES_HINT}; {EXPECTED_IN_FILE}"
    )


def test_text_of_exactly_the_limit_is_read() -> None:
    text = "-----" + "A" * (MAX_KEY_BYTES - 5)
    assert error_of(lambda: load_private_key(text)) == no_armor(MAX_KEY_BYTES, dashes="")


def test_a_pem_body_that_is_not_base64_or_is_empty_is_named_so() -> None:
    damaged = "-----BEGIN RSA PRIVATE KEY-----\nQU!D\n-----END RSA PRIVATE KEY-----\n"
    assert error_of(lambda: load_private_key(damaged)) == (
        "private key is damaged: the text between its BEGIN and END lines is not valid "
        "base64 (characters were changed, added or lost when it was copied); copy the "
        "whole file Kalshi gave you again"
    )
    empty = "-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----\n"
    assert error_of(lambda: load_private_key(empty)) == (
        "private key is empty between its BEGIN and END lines"
    )


def test_a_str_too_long_to_be_a_file_name_is_judged_as_key_text() -> None:
    # 300 characters: too long for one file name, so looking it up fails (ENAMETOOLONG)
    text = "a!" * 150
    assert error_of(lambda: load_private_key(text)) == no_armor(300)


# --- keys Kalshi refuses, named where they came from -------------------------------------

SMALL_RSA = (
    " is RSA-1024; Kalshi requires RSA keys of at least 2048 bits: create a new API key in "
    "Kalshi's web UI"
)


@pytest.fixture(scope="module")
def small_rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


def test_a_small_rsa_key_is_named_by_where_it_came_from(
    small_rsa: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    path = tmp_path / "small.pem"
    path.write_bytes(private_key_pem(small_rsa, encoding="pkcs1"))
    assert error_of(lambda: load_private_key(small_rsa)) == "private key" + SMALL_RSA
    assert error_of(lambda: load_private_key(path)) == f"private key file {str(path)!r}" + SMALL_RSA
    assert error_of(lambda: load_private_key(str(path))) == (
        f"private key file {str(path)!r}" + SMALL_RSA
    )


def test_a_file_named_by_a_str_that_is_not_pem_is_called_by_its_path(tmp_path: Path) -> None:
    path = tmp_path / "kalshi.pem"
    path.write_bytes(b"hello")
    assert error_of(lambda: load_private_key(str(path))) == (
        f"private key file {str(path)!r} is text with no -----BEGIN ...----- line, not PEM"
        f"{FILE_DASHES_HINT}; {EXPECTED_IN_FILE}"
    )


def test_an_empty_str_is_called_empty() -> None:
    assert error_of(lambda: load_private_key(" \n ")) == (
        "private key is empty; pass the PEM text of the key Kalshi gave you, or its path"
    )


def test_a_key_id_given_as_the_key_says_the_arguments_may_be_swapped() -> None:
    swapped = (
        ". The arguments may be swapped: call KalshiAuth(key_id, private_key) with the key id "
        "first, then the PEM text of the private key or the path of its file"
    )
    uuid = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
    assert error_of(lambda: load_private_key(uuid)) == (
        "private key looks like a key id, not a key: got a 36-character UUID" + swapped
    )
    assert error_of(lambda: load_private_key(uuid + "\n")) == (
        "private key looks like a key id, not a key: got a 37-character string: a UUID" + swapped
    )


def test_key_kind_names_each_type(small_rsa: rsa.RSAPrivateKey) -> None:
    assert key_kind(small_rsa) == "RSA-1024"
    assert key_kind(small_rsa.public_key()) == "RSA-1024"
    assert key_kind(ed25519.Ed25519PrivateKey.generate()) == "Ed25519"
    assert key_kind(ec.generate_private_key(ec.SECP256R1())) == "EC (secp256r1)"
    assert key_kind(dsa.generate_private_key(1024)) == "DSA"
    assert key_kind(42) == "int"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("id_rsa", True),
        ("~/.ssh/id_ed25519", True),
        ("/home/me/.ssh/id_rsa", True),  # the last part of a deep path
        ("C:\\Users\\me\\.ssh\\id_rsa", True),  # Windows' separator
        ("keys/Kalshi.PEM", True),
        ("id_rsa/notes", False),
        ("my_id_rsa", False),
        ("MC4CAQAwBQYDK2VwBCIEI", False),
    ],
)
def test_key_file_names_are_known_by_their_last_part(text: str, named: bool) -> None:
    assert has_key_file_name(text) is named


@pytest.mark.parametrize("password", ["", b""])
def test_an_empty_password_is_no_password(
    password: str | bytes, kalshi_rsa_key: rsa.RSAPrivateKey
) -> None:
    # .env files and forms give "" for "not set": a plain key loads, an encrypted one asks
    assert isinstance(
        load_private_key(private_key_pem(kalshi_rsa_key), password=password), rsa.RSAPrivateKey
    )
    with pytest.raises(PrivateKeyPasswordError, match="is encrypted; pass password="):
        load_private_key(private_key_pem(kalshi_rsa_key, password="pw"), password=password)


@pytest.mark.parametrize("password", [1234, ["pw"], bytearray(b"pw")])
def test_a_password_of_another_type_is_named_by_its_type(
    password: object, kalshi_rsa_key: rsa.RSAPrivateKey
) -> None:
    with pytest.raises(PrivateKeyPasswordError, match="str or bytes") as caught:
        load_private_key(private_key_pem(kalshi_rsa_key), password=password)  # type: ignore[arg-type]
    assert f"not {type(password).__name__}" in str(caught.value)
