"""Errors that name what was typed, without ever echoing a key (issue #15).

A string that can only be a file path is named, with the current directory; anything
that could be key material is described (its kind, its length), never quoted. Swapped
arguments are recognised both ways, and `inspect-key` describes a file that is not a key
by its name, size and kind, never its content. Every message is scanned for the key's
base64 body (`tests/helpers/keyleak.py`)."""

from __future__ import annotations

import io
import os
import pathlib
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import kalshi_auth._cli as cli
import kalshi_auth._keys as keys
from kalshi_auth import InvalidKeyIdError, InvalidPrivateKeyError, KalshiAuth
from kalshi_auth._inspect import inspect_key
from kalshi_auth.testing import private_key_pem
from tests.helpers.key_corpus import body_of
from tests.helpers.keyleak import key_fragments, leaked
from tests.keys.test_keys import self_signed_certificate

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"


@pytest.fixture
def pem(kalshi_rsa_key: rsa.RSAPrivateKey) -> str:
    return private_key_pem(kalshi_rsa_key, encoding="pkcs1").decode()


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    return os.getcwd()


def private_key_error(source: object) -> InvalidPrivateKeyError:
    with pytest.raises(InvalidPrivateKeyError) as caught:
        KalshiAuth(KEY_ID, source)  # type: ignore[arg-type]
    assert caught.value.__cause__ is None
    return caught.value


def shown_nowhere(text: str, output: str) -> bool:
    """Whether no run of `text` (a key's body, a file's content) appears in `output`: its
    16-character runs, or the whole of a shorter text of 5 characters or more."""
    return not [f for f in key_fragments(text) if len(f) >= 5 and f in output]


# --- the rule: what is named, what is only described ----------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "kalshi-key.pem",
        "rsa.pem",
        "keys/kalshi.key",
        "./kalshi",
        "~/keys/kalshi_prod.pem",
        "C:\\Users\\me\\Downloads\\kalshi-key.txt",
        "My Keys/kalshi private.p8",
        "id_ed25519",
        "kalshi\x1b[31m.pem",  # control characters are shown as ?, never raw
    ],
)
def test_what_can_only_be_a_path_is_named(text: str) -> None:
    shown = keys.path_shown(text)
    assert shown is not None
    assert "\x1b" not in shown
    assert shown == repr(text.replace("\x1b", "?"))


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("base64 only", "keys/prod"),
        ("base64 only, absolute", "/home/alice/kalshi"),
        ("a 16-character base64 run", "MIIEowIBAAKCAQEAx9.pem"),
        ("a run that starts like an RSA key", "MIIEsecret.pem"),
        ("a run that starts like an Ed25519 key", "keys/MC4CAQ.pem"),
        ("a run of 16 letters", "kalshiprivatekey.pem"),
        ("two lines", "kalshi.pem\nkalshi.pem"),
        ("armor", "-----kalshi.pem"),
        ("long", "kalshi-" * 38 + ".pem"),
    ],
)
def test_what_could_be_key_material_is_never_named(name: str, text: str) -> None:
    assert keys.path_shown(text) is None, name


def test_a_key_body_with_a_file_extension_is_not_named(pem: str) -> None:
    body = body_of(pem)
    for text in (body[:40] + ".pem", "~/" + body[:60], body[:30].replace("A", "/") + ".key"):
        assert keys.path_shown(text) is None, text


# --- KalshiAuth(key_id, "kalshi-key.pem"): a file that is not there -------------------------


@pytest.mark.parametrize(
    "typed", ["kalshi-key.pem", "keys/kalshi.pem", "C:\\keys\\kalshi.key", "kalshi_prod.txt"]
)
def test_a_missing_key_file_is_named_with_the_current_directory(
    typed: str, cwd: str, pem: str
) -> None:
    error = private_key_error(typed)
    message = str(error)
    assert repr(typed) in message
    assert repr(cwd) in message
    assert "does not exist" in message
    assert "character string" not in message
    assert not leaked(error, [body_of(pem)])


def test_a_missing_key_file_under_home_is_named_as_expanded(cwd: str) -> None:
    message = str(private_key_error("~/no-such-dir-kalshi/kalshi-key.pem"))
    assert repr(os.path.expanduser("~/no-such-dir-kalshi/kalshi-key.pem")) in message
    assert "does not exist" in message


def test_a_key_file_path_that_is_a_directory_is_named_with_the_current_directory(
    cwd: str,
) -> None:
    Path("keys.pem").mkdir()
    message = str(private_key_error("keys.pem"))
    assert "'keys.pem'" in message
    assert "is a directory" in message
    assert repr(cwd) in message


def test_an_unreadable_key_file_is_named_with_the_current_directory(
    cwd: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stat = pathlib.Path.stat

    def refused(self: Path, **kwargs: bool) -> os.stat_result:
        if self.name == "locked.pem":
            raise PermissionError(13, "Permission denied")
        return stat(self, **kwargs)

    monkeypatch.setattr(pathlib.Path, "stat", refused)
    message = str(private_key_error("locked.pem"))
    assert "'locked.pem'" in message
    assert "not readable" in message
    assert repr(cwd) in message


@pytest.mark.parametrize("suffix", [".pem", "/kalshi.pem", ".key"])
def test_key_text_that_looks_like_a_path_is_still_only_described(
    suffix: str, cwd: str, pem: str
) -> None:
    body = body_of(pem)
    typed = body[:48] + suffix
    error = private_key_error(typed)
    message = str(error)
    assert body[:16] not in message
    assert f"{len(typed)}-character string" in message  # described by its length
    assert not leaked(error, [body])
    assert repr(cwd) in message  # where a path would have been looked for


def test_a_pathlike_that_could_be_key_material_is_still_described(tmp_path: Path, pem: str) -> None:
    body = body_of(pem)
    error = private_key_error(tmp_path / (body[:20].replace("/", "x") + ".pem"))
    assert "does not exist" in str(error)
    assert not leaked(error, [body])


def test_a_pathlike_key_file_that_is_missing_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "kalshi-key.pem"
    message = str(private_key_error(missing))
    assert repr(str(missing)) in message
    assert "does not exist" in message


# --- swapped arguments ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    ["rsa.pem", "kalshi-key.pem", "./keys/kalshi", "/home/me/kalshi.key", "C:\\keys\\kalshi.txt"],
)
def test_a_key_file_in_the_key_id_position_says_the_arguments_are_swapped(
    typed: str, kalshi_rsa_key: rsa.RSAPrivateKey, pem: str
) -> None:
    with pytest.raises(InvalidKeyIdError) as caught:
        KalshiAuth(typed, KEY_ID)
    message = str(caught.value)
    for fact in ("swapped", "KalshiAuth(key_id, private_key)", "key id first", repr(typed)):
        assert fact in message, message
    assert not leaked(caught.value, [body_of(pem)])


def test_key_text_with_a_file_extension_in_the_key_id_position_is_described(pem: str) -> None:
    body = body_of(pem)
    typed = body[:40].replace("/", "x") + ".pem"
    with pytest.raises(InvalidKeyIdError) as caught:
        KalshiAuth(typed, KEY_ID)
    message = str(caught.value)
    assert "swapped" in message
    assert "44-character" in message
    assert not leaked(caught.value, [body])


def test_a_base64_only_path_in_the_key_id_position_is_swapped_but_described() -> None:
    with pytest.raises(InvalidKeyIdError) as caught:
        KalshiAuth("keys/kalshi", KEY_ID)
    assert "swapped" in str(caught.value)
    assert "11-character" in str(caught.value)
    assert "keys/kalshi" not in str(caught.value)


def test_a_mistyped_uuid_is_not_taken_for_a_path() -> None:
    for typed in (KEY_ID.replace("-", "/"), KEY_ID[:4] + "/" + KEY_ID[5:]):
        with pytest.raises(InvalidKeyIdError) as caught:
            KalshiAuth(typed, "unused")
        assert "swapped" not in str(caught.value)
        assert "letters, digits" in str(caught.value)


@pytest.mark.parametrize("typed", [KEY_ID, KEY_ID.upper(), f" {KEY_ID}\n"])
def test_a_key_id_in_the_private_key_position_says_the_arguments_may_be_swapped(
    typed: str,
) -> None:
    message = str(private_key_error(typed))
    for fact in ("key id", "UUID", f"{len(typed)}-character", "swapped", "key id first"):
        assert fact in message, message
    assert KEY_ID not in message.lower()
    assert KEY_ID[:8] not in message.lower()


def test_a_file_named_like_a_uuid_is_still_loaded(cwd: str, pem: str) -> None:
    Path(KEY_ID).write_text(pem)
    assert KalshiAuth("b" * 8 + KEY_ID[8:], KEY_ID).key_id.startswith("bbbbbbbb")


# --- inspect-key on a file that is not a key --------------------------------------------------


def inspect(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["inspect-key", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def problem_of(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith("problem:"))


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


FILES: dict[str, tuple[Callable[[rsa.RSAPrivateKey], bytes], str]] = {
    "empty": (lambda k: b"", "empty"),
    "whitespace": (lambda k: b"  \n\n", "whitespace"),
    "text": (lambda k: b"hello", "text with no -----BEGIN"),
    "utf-16": (lambda k: "hello\n".encode("utf-16"), "UTF-16 text"),
    "binary": (lambda k: b"\x00\x01garbage\x02" * 3, "binary"),
    "public key": (public_pem, "public key"),
    "certificate": (
        lambda k: self_signed_certificate(k).public_bytes(serialization.Encoding.PEM),
        "certificate",
    ),
}


@pytest.mark.parametrize("kind", sorted(FILES))
def test_inspect_key_describes_a_file_that_is_not_a_key(
    kind: str,
    capsys: pytest.CaptureFixture[str],
    cwd: str,
    kalshi_rsa_key: rsa.RSAPrivateKey,
    pem: str,
) -> None:
    make, words = FILES[kind]
    data = make(kalshi_rsa_key)
    Path("notes.pem").write_bytes(data)
    code, out, err = inspect(capsys, "notes.pem")
    assert code == 1, out + err
    problem = problem_of(out)
    for fact in ("'notes.pem'", f"({len(data)} bytes)", words):
        assert fact in problem, problem
    assert "character string" not in problem
    assert "path of an existing file" not in problem
    assert shown_nowhere(body_of(pem), out + err)
    assert shown_nowhere(body_of(data.decode("utf-8", "replace")), out + err)  # nor its own


def test_inspect_key_describes_standard_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Stdin:
        buffer = io.BytesIO(b"hello")

    monkeypatch.setattr("sys.stdin", Stdin)
    code, out, _ = inspect(capsys, "-")
    assert code == 1
    assert "standard input (5 bytes)" in problem_of(out)


def test_inspect_key_on_a_damaged_key_names_the_file_and_leaks_nothing(
    capsys: pytest.CaptureFixture[str], cwd: str, pem: str
) -> None:
    Path("cut.pem").write_text(pem[: len(pem) // 2])
    code, out, err = inspect(capsys, "cut.pem")
    assert code == 1
    assert "'cut.pem'" in problem_of(out)
    assert shown_nowhere(body_of(pem), out + err)


def test_inspect_key_names_a_missing_file_and_the_current_directory(
    capsys: pytest.CaptureFixture[str], cwd: str
) -> None:
    code, out, err = inspect(capsys, "missing.pem")
    assert code == 2
    assert out == ""
    assert "'missing.pem'" in err
    assert repr(cwd) in err
    assert "does not exist" in err


def test_the_password_fix_does_not_read_the_file_name(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    locked = private_key_pem(kalshi_rsa_key, password=b"right")
    report = inspect_key(locked, password="wrong", name="encrypted.pem")
    assert report.fix == "check KALSHI_PRIVATE_KEY_PASSWORD"
    report = inspect_key(locked, password=None, name="not encrypted.pem")
    assert report.fix == "set KALSHI_PRIVATE_KEY_PASSWORD to the key's password"


# --- inspect-key never prints a traceback, a Rust panic included ------------------------------


class PanicException(BaseException):
    """What pyo3 raises for a Rust panic (derives from BaseException alone)."""


def test_inspect_key_turns_a_backend_panic_into_one_line(
    capsys: pytest.CaptureFixture[str], cwd: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def panics(*args: object, **kwargs: object) -> None:
        raise PanicException("called `Result::unwrap()` on an `Err` value")

    monkeypatch.setattr(cli, "inspect_key", panics)
    Path("key.pem").write_text("anything")
    code, out, err = inspect(capsys, "key.pem")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert "unwrap" not in err


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_inspect_key_lets_interrupts_through(
    interrupt: type[BaseException], cwd: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise interrupt

    monkeypatch.setattr(cli, "inspect_key", interrupted)
    Path("key.pem").write_text("anything")
    with pytest.raises(interrupt):
        cli.main(["inspect-key", "key.pem"])
