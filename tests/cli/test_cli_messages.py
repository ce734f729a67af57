"""Errors that name what was typed: paths, schemes, password variables, key folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_auth._cli import main
from kalshi_auth.testing import private_key_pem

KEY_ID = "3c2b1a09-8f7e-4d6c-9b5a-4f3e2d1c0b9a"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def key_file(tmp_path: Path, kalshi_rsa_key: rsa.RSAPrivateKey) -> Path:
    path = tmp_path / "kalshi-key.pem"
    path.write_bytes(private_key_pem(kalshi_rsa_key, password="pw"))
    return path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, key_file: Path) -> pytest.MonkeyPatch:
    for name in ("KALSHI_PRIVATE_KEY", "KALSHI_PRIVATE_KEY_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KALSHI_API_KEY_ID", KEY_ID)
    monkeypatch.setenv("KALSHI_PRIVATE_KEY_PATH", str(key_file))
    monkeypatch.setenv("KALSHI_PRIVATE_KEY_PASSWORD", "pw")
    return monkeypatch


def test_a_missing_key_path_is_named_with_the_current_directory(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("KALSHI_PRIVATE_KEY_PATH", "/nonexistent.pem")
    code, _, err = run(["headers", "GET", "/x"], capsys)
    assert code == 2
    assert "KALSHI_PRIVATE_KEY_PATH" in err
    assert "'/nonexistent.pem'" in err
    assert repr(os.getcwd()) in err


@pytest.mark.parametrize(
    ("password", "words"),
    [
        (None, "set KALSHI_PRIVATE_KEY_PASSWORD to its password"),
        ("wrong", "KALSHI_PRIVATE_KEY_PASSWORD is wrong"),
    ],
)
def test_an_encrypted_key_names_the_password_variable(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], password: str | None, words: str
) -> None:
    if password is None:
        env.delenv("KALSHI_PRIVATE_KEY_PASSWORD")
    else:
        env.setenv("KALSHI_PRIVATE_KEY_PASSWORD", password)
    code, _, err = run(["headers", "GET", "/x"], capsys)
    assert code == 2
    assert words in err
    assert "password=" not in err  # Python's keyword means nothing on a command line


def test_a_password_for_a_plain_key_says_unset_it(
    env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    kalshi_rsa_key: rsa.RSAPrivateKey,
) -> None:
    plain = tmp_path / "plain.pem"
    plain.write_bytes(private_key_pem(kalshi_rsa_key))
    env.setenv("KALSHI_PRIVATE_KEY_PATH", str(plain))
    code, _, err = run(["headers", "GET", "/x"], capsys)
    assert code == 2
    assert "KALSHI_PRIVATE_KEY_PASSWORD is set; unset it" in err


def test_a_url_without_a_scheme_gets_the_corrected_url(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["headers", "GET", "external-api.kalshi.com/trade-api/v2/x"], capsys)
    assert code == 2
    assert out == ""
    assert "https://external-api.kalshi.com/trade-api/v2/x" in err


@pytest.mark.parametrize("url", ["ftp://external-api.kalshi.com/x", "file:///etc/passwd"])
def test_a_scheme_kalshi_does_not_serve_is_refused(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    code, out, err = run(["headers", "GET", url], capsys)
    assert code == 2
    assert out == ""  # nothing signed
    assert "https://" in err
    assert url.partition(":")[0] in err


@pytest.mark.parametrize("method", ["M-SEARCH", "propfind"])
def test_headers_signs_any_token_method(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], method: str
) -> None:
    code, out, _ = run(["headers", method, "/trade-api/v2/x"], capsys)
    assert code == 0
    assert "KALSHI-ACCESS-SIGNATURE" in out


@pytest.mark.parametrize("method", ["GET POST", "G\nET", ""])
def test_headers_refuses_a_method_that_is_not_a_token(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], method: str
) -> None:
    code, out, err = run(["headers", method, "/x"], capsys)
    assert code == 2
    assert out == ""
    assert "HTTP method" in err


def test_keygen_into_a_directory_says_it_is_a_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["keygen", "--out", str(tmp_path)], capsys)
    assert code == 2
    assert "is a directory" in err
    assert "already exists" not in err
    assert str(tmp_path / "kalshi-key.pem") in err


def test_keygen_into_a_missing_folder_names_the_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "dir" / "k.pem"
    code, _, err = run(["keygen", "--out", str(target)], capsys)
    assert code == 2
    assert f"the folder '{tmp_path / 'missing'}' does not exist" in err
    assert not target.parent.exists()
