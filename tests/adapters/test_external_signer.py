"""Keys held elsewhere: a `Signer` signs through every client, off the event loop in async
clients, and its failures are one typed error that is never retried."""

from __future__ import annotations

import asyncio
import pickle
import threading
import time
from collections.abc import Iterator

import aiohttp
import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from kalshi_auth import ConfigurationError, KalshiAuth, Signer, SignerError
from kalshi_auth.aiohttp import KalshiAuthMiddleware
from kalshi_auth.testing import KalshiTestServer, private_key_pem
from tests.helpers.clients import CLIENTS, send

KEY_ID = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


class InProcessSigner:
    """What a KMS client does, in process: a key it never hands out, and latency."""

    def __init__(self, key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey, latency: float = 0):
        self._key = key
        self.key_type = "rsa" if isinstance(key, rsa.RSAPrivateKey) else "ed25519"
        self.latency = latency
        self.calls = 0
        self.threads: list[str] = []

    def sign(self, message: bytes) -> bytes:
        self.calls += 1
        self.threads.append(threading.current_thread().name)
        time.sleep(self.latency)  # a network round trip
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(message, PSS, hashes.SHA256())
        return self._key.sign(message)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (private_key_pem(self._key), self.latency))


def _rebuild(pem: bytes, latency: float) -> InProcessSigner:
    key = load_pem_private_key(pem, None)
    assert isinstance(key, (rsa.RSAPrivateKey, ed25519.Ed25519PrivateKey))
    return InProcessSigner(key, latency)


@pytest.fixture
def server(
    kalshi_rsa_key: rsa.RSAPrivateKey, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> Iterator[KalshiTestServer]:
    with KalshiTestServer({KEY_ID: kalshi_rsa_key, "ed-" + KEY_ID: kalshi_ed25519_key}) as s:
        yield s


def test_a_signer_satisfies_the_protocol(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    assert isinstance(InProcessSigner(kalshi_rsa_key), Signer)
    assert not isinstance(kalshi_rsa_key, Signer)  # a key object is loaded, not called as a Signer


@pytest.mark.parametrize("client", CLIENTS)
def test_external_rsa_and_ed25519_signers_verify_through_every_client(
    server: KalshiTestServer,
    kalshi_rsa_key: rsa.RSAPrivateKey,
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
    client: str,
) -> None:
    for key_id, key in ((KEY_ID, kalshi_rsa_key), ("ed-" + KEY_ID, kalshi_ed25519_key)):
        signer = InProcessSigner(key, latency=0.01)
        auth = KalshiAuth(key_id, signer)
        url = f"{server.base_url}/portfolio/orders"
        assert send(client, auth, "POST", url, body={"n": 1}) == 200
        assert signer.calls == 1
    assert all(r.verdict.accepted for r in server.requests)


@pytest.mark.parametrize("client", ["httpx-async", "aiohttp"])
def test_a_slow_signer_runs_while_the_event_loop_serves_other_tasks(
    server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey, client: str
) -> None:
    # The signer waits until a task on the event loop releases it. Signed on the loop, the
    # task could never run: the signer would give up and the request fail.
    started, released = threading.Event(), threading.Event()

    class GatedSigner(InProcessSigner):
        def sign(self, message: bytes) -> bytes:
            started.set()
            if not released.wait(timeout=10):
                raise TimeoutError("the event loop never ran while signing")
            return super().sign(message)

    signer = GatedSigner(kalshi_rsa_key)
    auth = KalshiAuth(KEY_ID, signer)

    async def release_when_signing() -> None:
        while not started.is_set():
            await asyncio.sleep(0.001)
        released.set()

    async def go() -> int:
        url = f"{server.base_url}/portfolio/balance"
        if client == "httpx-async":
            async with httpx.AsyncClient(auth=auth) as c:
                answer, _ = await asyncio.gather(c.get(url), release_when_signing())
                return answer.status_code
        async with aiohttp.ClientSession(middlewares=(KalshiAuthMiddleware(auth),)) as s:

            async def get() -> int:
                async with s.get(url) as response:
                    return response.status

            status, _ = await asyncio.gather(get(), release_when_signing())
            return status

    assert asyncio.run(go()) == 200
    assert signer.threads[0].startswith("kalshi-auth-sign")


class FailingSigner:
    key_type = "rsa"

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def sign(self, message: bytes) -> bytes:
        self.calls += 1
        raise self.error


@pytest.mark.parametrize("client", CLIENTS)
def test_a_failing_signer_is_one_typed_error_never_retried(
    server: KalshiTestServer, client: str
) -> None:
    signer = FailingSigner(ConnectionError("kms.us-east-1: throttled\x1b[31m"))
    auth = KalshiAuth(KEY_ID, signer)
    with pytest.raises(SignerError) as caught:
        send(client, auth, "GET", f"{server.base_url}/portfolio/balance")
    message = str(caught.value)
    assert "FailingSigner" in message
    assert "ConnectionError" in message
    assert "throttled" not in message  # the signer's own text can hold secrets: class only
    assert "kms.us-east-1" not in message
    assert "\x1b" not in message
    assert isinstance(caught.value.__cause__, ConnectionError)
    assert signer.calls == 1
    assert server.requests == []  # nothing was sent


class WrongReturn:
    def __init__(self, key_type: str, value: object) -> None:
        self.key_type = key_type
        self.value = value

    def sign(self, message: bytes) -> bytes:
        return self.value  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("key_type", "value", "words"),
    [
        ("rsa", "c2lnbmF0dXJl", "returned str"),
        ("rsa", b"", "(empty)"),
        ("rsa", None, "returned NoneType"),
        ("ed25519", b"x" * 88, "88 bytes"),
    ],
)
def test_a_signer_returning_no_signature_is_a_typed_error(
    key_type: str, value: object, words: str
) -> None:
    auth = KalshiAuth(KEY_ID, WrongReturn(key_type, value))
    with pytest.raises(SignerError, match=words.replace("(", r"\(").replace(")", r"\)")):
        auth.headers("GET", "/trade-api/v2/portfolio/balance")


@pytest.mark.parametrize("key_type", ["RSA", "ecdsa", None, 1])
def test_a_signer_with_a_wrong_key_type_is_refused(key_type: object) -> None:
    with pytest.raises(ConfigurationError, match="'rsa' or 'ed25519'"):
        KalshiAuth(KEY_ID, WrongReturn(key_type, b""))  # type: ignore[arg-type]


def test_a_signer_takes_no_password(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ConfigurationError) as refused:
        KalshiAuth(KEY_ID, InProcessSigner(kalshi_rsa_key), password="pw")
    assert str(refused.value).startswith("password= is for key files")  # names the option


def test_key_type_names_the_signer_and_pickles(
    kalshi_rsa_key: rsa.RSAPrivateKey, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    ed25519_auth = KalshiAuth(KEY_ID, InProcessSigner(kalshi_ed25519_key))
    assert ed25519_auth.key_type.startswith("Ed25519 (")  # as a local key's kind is spelt
    auth = KalshiAuth(KEY_ID, InProcessSigner(kalshi_rsa_key))
    assert auth.key_type == "RSA (tests.adapters.test_external_signer.InProcessSigner)"
    assert "InProcessSigner" in repr(auth)
    copy = pickle.loads(pickle.dumps(auth))
    assert copy.key_type == auth.key_type
    assert copy.headers("GET", "/x")["KALSHI-ACCESS-KEY"] == KEY_ID
