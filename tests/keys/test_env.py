"""KalshiAuth.from_env(): the variables, and an error naming the variable for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from kalshi_auth import (
    ConfigurationError,
    InvalidPrivateKeyError,
    KalshiAuth,
    PrivateKeyPasswordError,
)
from kalshi_auth.testing import private_key_pem
from tests.helpers.keys import PASSWORD, Credential, assert_no_key_material, signs_verifiably

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"


def verifies(auth: KalshiAuth, credential: Credential) -> bool:
    url = "https://external-api.kalshi.com/trade-api/v2/markets?limit=1"
    return signs_verifiably(auth, credential.private_key, url, "/trade-api/v2/markets?limit=1")


def env_for(credential: Credential) -> dict[str, str]:
    env = {"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY": credential.pem.decode()}
    if credential.name == "rsa-encrypted":
        env["KALSHI_PRIVATE_KEY_PASSWORD"] = PASSWORD
    return env


def test_pem_text_from_mapping(credential: Credential) -> None:
    auth = KalshiAuth.from_env(env_for(credential))
    assert auth.key_id == KEY_ID
    assert verifies(auth, credential)


def test_key_path(credential: Credential, tmp_path: Path) -> None:
    file = tmp_path / "kalshi.pem"
    file.write_bytes(credential.pem)
    env = env_for(credential)
    del env["KALSHI_PRIVATE_KEY"]
    env["KALSHI_PRIVATE_KEY_PATH"] = str(file)
    assert verifies(KalshiAuth.from_env(env), credential)


def test_reads_os_environ(
    credentials: dict[str, Credential], monkeypatch: pytest.MonkeyPatch
) -> None:
    credential = credentials["ed25519"]
    monkeypatch.setenv("KALSHI_API_KEY_ID", KEY_ID)
    monkeypatch.setenv("KALSHI_PRIVATE_KEY", credential.pem.decode().replace("\n", "\\n"))
    monkeypatch.delenv("KALSHI_PRIVATE_KEY_PATH", raising=False)
    monkeypatch.delenv("KALSHI_PRIVATE_KEY_PASSWORD", raising=False)
    assert verifies(KalshiAuth.from_env(), credential)


@pytest.mark.parametrize(
    ("env", "error", "words"),
    [
        ({}, ConfigurationError, "KALSHI_API_KEY_ID is not set"),
        ({"KALSHI_API_KEY_ID": "  "}, ConfigurationError, "KALSHI_API_KEY_ID is not set"),
        ({"KALSHI_API_KEY_ID": KEY_ID}, ConfigurationError, "neither KALSHI_PRIVATE_KEY"),
        (
            {
                "KALSHI_API_KEY_ID": KEY_ID,
                "KALSHI_PRIVATE_KEY": "x",
                "KALSHI_PRIVATE_KEY_PATH": "y",
            },
            ConfigurationError,
            "both KALSHI_PRIVATE_KEY and KALSHI_PRIVATE_KEY_PATH",
        ),
        (
            {"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY_PATH": "/nope/k.pem"},
            InvalidPrivateKeyError,
            # The path is not quoted: it names nothing, and may be a pasted key.
            "KALSHI_PRIVATE_KEY_PATH: no file at '/nope/k.pem'",
        ),
    ],
)
def test_missing_or_conflicting(env: dict[str, str], error: type, words: str) -> None:
    with pytest.raises(error) as caught:
        KalshiAuth.from_env(env)
    assert words in str(caught.value)


def test_key_errors_name_the_variable(credentials: dict[str, Credential]) -> None:
    credential = credentials["rsa-encrypted"]
    env = env_for(credential)
    env["KALSHI_PRIVATE_KEY_PASSWORD"] = "wrong"
    with pytest.raises(PrivateKeyPasswordError) as caught:
        KalshiAuth.from_env(env)
    assert str(caught.value).startswith("KALSHI_PRIVATE_KEY: ")
    assert "KALSHI_PRIVATE_KEY_PASSWORD is wrong" in str(caught.value)
    assert_no_key_material(str(caught.value), credential.pem)
    truncated = {"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY": credential.pem.decode()[:40]}
    with pytest.raises(InvalidPrivateKeyError, match=r"^KALSHI_PRIVATE_KEY: .*truncated"):
        KalshiAuth.from_env(truncated)


@pytest.mark.parametrize("escaped", [False, True])
def test_pem_text_in_the_path_variable_is_never_quoted(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey, escaped: bool
) -> None:
    # An Ed25519 PEM is ~120 characters: quoted, the whole key would be in the message.
    pem = private_key_pem(kalshi_ed25519_key).decode()
    value = pem.replace("\n", "\\n") if escaped else pem
    env = {"KALSHI_API_KEY_ID": KEY_ID, "KALSHI_PRIVATE_KEY_PATH": value}
    with pytest.raises(InvalidPrivateKeyError) as caught:
        KalshiAuth.from_env(env)
    message = str(caught.value)
    assert message.startswith("KALSHI_PRIVATE_KEY_PATH: ")
    assert "KALSHI_PRIVATE_KEY," in message  # where PEM text belongs
    assert_no_key_material(message, private_key_pem(kalshi_ed25519_key))
    assert "BEGIN" not in message
