"""Where and when a signature is made: on the signer's own threads in async code, with the
timestamp taken there; a hung or broken signer fails its own requests and nothing else."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import aiohttp
import anyio
import httpx
import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from websockets.exceptions import InvalidStatus

from kalshi_auth import ConfigurationError, KalshiAuth, SignerError
from kalshi_auth._offload import SigningThreads
from kalshi_auth.aiohttp import KalshiAuthMiddleware
from kalshi_auth.testing import KalshiTestServer, KalshiVerifier, generate_rsa_key
from kalshi_auth.websockets import connect
from tests.adapters.test_websockets import WS_PATH, ws_server
from tests.helpers.clients import CLIENTS, send
from tests.helpers.redirect_servers import two_origins

KEY_ID = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"
OTHER_ID = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
SIGNING_THREAD = "kalshi-auth-sign"


class RecordingSigner:
    """An RSA `Signer` with latency that records the thread of each call; `hang` makes
    every call wait until `release` is set."""

    key_type = "rsa"

    def __init__(self, key: rsa.RSAPrivateKey, latency: float = 0.0) -> None:
        self.key = key
        self.latency = latency
        self.threads: list[str] = []
        self.hang = False
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most_at_once = 0

    def sign(self, message: bytes) -> bytes:
        with self.lock:
            self.threads.append(threading.current_thread().name)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        try:
            if self.hang:
                self.release.wait(timeout=60)
            time.sleep(self.latency)
            return self.key.sign(message, PSS, hashes.SHA256())
        finally:
            with self.lock:
                self.running -= 1


class ThreadClock:
    """The system clock, recording which thread asked for the time."""

    def __init__(self) -> None:
        self.threads: list[str] = []

    def __call__(self) -> int:
        self.threads.append(threading.current_thread().name)
        return time.time_ns() // 1_000_000


@pytest.fixture
def server(kalshi_rsa_key: rsa.RSAPrivateKey) -> Iterator[KalshiTestServer]:
    with KalshiTestServer({KEY_ID: kalshi_rsa_key}) as s:
        yield s


async def _get_all(client: str, auth: KalshiAuth, urls: list[str]) -> list[int]:
    """GET every URL at once through an async client; the statuses."""
    if client == "httpx-async":
        hooks = auth.httpx_async_event_hooks()
        async with httpx.AsyncClient(
            auth=auth, follow_redirects=True, event_hooks=hooks, timeout=60
        ) as c:
            responses = await asyncio.gather(*(c.get(url) for url in urls))
            return [r.status_code for r in responses]
    async with aiohttp.ClientSession(middlewares=(KalshiAuthMiddleware(auth),)) as session:

        async def get(url: str) -> int:
            async with session.get(url) as response:
                return response.status

        return list(await asyncio.gather(*(get(url) for url in urls)))


# --- the timestamp is taken where the signature is made -------------------------------------


@pytest.mark.parametrize("client", ["httpx-async", "aiohttp"])
@pytest.mark.parametrize("signer_kind", ["rsa-key", "external"])
def test_async_clients_take_the_timestamp_on_the_signing_thread(
    server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey, client: str, signer_kind: str
) -> None:
    clock = ThreadClock()
    source = kalshi_rsa_key if signer_kind == "rsa-key" else RecordingSigner(kalshi_rsa_key)
    auth = KalshiAuth(KEY_ID, source, clock=clock)
    urls = [f"{server.base_url}/markets/M{i}" for i in range(5)]
    assert asyncio.run(_get_all(client, auth, urls)) == [200] * 5
    assert len(clock.threads) == 5
    assert all(name.startswith(SIGNING_THREAD) for name in clock.threads), clock.threads


@pytest.mark.slow  # waits on real time or a subprocess
def test_a_slow_signer_under_load_never_sends_a_stale_timestamp(
    kalshi_rsa_key: rsa.RSAPrivateKey,
) -> None:
    # 120 requests at once, a 100 ms signer, 8 threads: the last waits ~1.5 s for a
    # thread. Its timestamp must be read when its turn comes, not when it joined the queue.
    staleness: list[int] = []

    class Measuring(RecordingSigner):
        def sign(self, message: bytes) -> bytes:
            staleness.append(time.time_ns() // 1_000_000 - int(message[:13]))
            return super().sign(message)

    signer = Measuring(kalshi_rsa_key, latency=0.1)
    auth = KalshiAuth(KEY_ID, signer)
    with KalshiTestServer({KEY_ID: kalshi_rsa_key}) as server:
        urls = [f"{server.base_url}/markets/M{i}" for i in range(120)]
        statuses = asyncio.run(_get_all("httpx-async", auth, urls))
        accepted = [r.verdict.accepted for r in server.requests]
    assert statuses == [200] * 120
    assert accepted == [True] * 120  # none needed the clock re-send
    assert len(staleness) == 120
    # Read before the queue, the last timestamps would be ~1.5 s old when signed.
    assert max(staleness) < 250, sorted(staleness)[-5:]
    assert signer.most_at_once == 8  # bounded: the signer's own 8 threads, all in use


# --- every async signature leaves the loop: hops, clock re-sends, WebSocket attempts ---------


def test_httpx_async_redirect_hops_sign_on_the_signing_thread(
    kalshi_rsa_key: rsa.RSAPrivateKey,
) -> None:
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, kalshi_rsa_key)
    with two_origins(verifier) as o:
        signer = RecordingSigner(kalshi_rsa_key)
        auth = KalshiAuth(KEY_ID, signer)
        url = o.redirect(o.a, 307, f"{o.a}/trade-api/v2/portfolio/balance")
        assert asyncio.run(_get_all("httpx-async", auth, [url])) == [200]
        signed = [hop for hop in o.hops if hop.verdict is not None]
    assert len(signed) == 2  # the first request and its hop, each signed for itself
    assert all(hop.verdict is not None and hop.verdict.accepted for hop in signed)
    assert len(signer.threads) == 2
    assert all(name.startswith(SIGNING_THREAD) for name in signer.threads), signer.threads


@pytest.mark.parametrize("client", ["httpx-async", "aiohttp"])
def test_a_clock_resend_signs_on_the_signing_thread(
    kalshi_rsa_key: rsa.RSAPrivateKey, client: str
) -> None:
    verifier = KalshiVerifier(clock=lambda: time.time_ns() // 1_000_000 + 120_000)
    verifier.register(KEY_ID, kalshi_rsa_key)
    signer = RecordingSigner(kalshi_rsa_key)
    auth = KalshiAuth(KEY_ID, signer)
    with KalshiTestServer(verifier=verifier) as server:
        assert asyncio.run(_get_all(client, auth, [f"{server.base_url}/markets"])) == [200]
    assert len(signer.threads) == 2  # rejected, learned, re-sent
    assert all(name.startswith(SIGNING_THREAD) for name in signer.threads), signer.threads


@pytest.mark.anyio
async def test_websocket_hops_and_retries_sign_on_the_signing_thread(
    kalshi_rsa_key: rsa.RSAPrivateKey,
) -> None:
    ahead = {"ms": 0}
    verifier = KalshiVerifier(clock=lambda: time.time_ns() // 1_000_000 + ahead["ms"])
    verifier.register(KEY_ID, kalshi_rsa_key)
    signer = RecordingSigner(kalshi_rsa_key)
    auth = KalshiAuth(KEY_ID, signer)
    async with ws_server(verifier) as server:
        server.redirect = lambda path: WS_PATH if path == "/start" else None
        async with connect(server.url + "/start", auth) as ws:
            assert json.loads(await ws.recv())["path"] == WS_PATH
        ahead["ms"] = 120_000  # the server's clock jumps: one rejection, learned, retried
        async with connect(server.url + WS_PATH, auth) as ws:
            assert json.loads(await ws.recv())["type"] == "hello"
    # first attempt, its redirect hop; then the rejected attempt and its retry
    assert len(signer.threads) == 4
    assert all(name.startswith(SIGNING_THREAD) for name in signer.threads), signer.threads


# --- a hung signer fails its own requests, and no one else's ---------------------------------


@pytest.mark.parametrize("client", CLIENTS)
def test_a_hung_signer_fails_its_request_after_signer_timeout(
    server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey, client: str
) -> None:
    signer = RecordingSigner(kalshi_rsa_key)
    signer.hang = True
    auth = KalshiAuth(KEY_ID, signer, signer_timeout=0.2)
    try:
        with pytest.raises(SignerError, match=r"did not return within 0\.2 s") as caught:
            send(client, auth, "GET", f"{server.base_url}/portfolio/balance")
    finally:
        signer.release.set()
    assert "signer_timeout" in str(caught.value)
    assert server.requests == []  # nothing was sent


@pytest.mark.anyio
async def test_a_hung_websocket_signer_fails_the_attempt(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    signer = RecordingSigner(kalshi_rsa_key)
    signer.hang = True
    auth = KalshiAuth(KEY_ID, signer, signer_timeout=0.2)
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, kalshi_rsa_key)
    try:
        async with ws_server(verifier) as server:
            with pytest.raises(SignerError):
                async with connect(server.url + WS_PATH, auth):
                    pass
            assert server.seen == []
    finally:
        signer.release.set()


@pytest.mark.slow  # waits on real time for hung signers
@pytest.mark.parametrize("client", ["httpx-async", "aiohttp"])
def test_one_hung_signer_cannot_starve_another(
    server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey, client: str
) -> None:
    hung = RecordingSigner(kalshi_rsa_key)
    hung.hang = True
    healthy = RecordingSigner(kalshi_rsa_key)
    stuck = KalshiAuth(KEY_ID, hung, signer_timeout=5)
    fine = KalshiAuth(KEY_ID, healthy, signer_timeout=5)
    url = f"{server.base_url}/portfolio/balance"

    async def both() -> tuple[list[object], list[int]]:
        # 20 requests fill every thread of the hung signer and queue behind them; then
        # the healthy signer's requests must go through while those still wait.
        blocked = asyncio.gather(
            *(_get_all(client, stuck, [url]) for _ in range(20)), return_exceptions=True
        )
        while hung.running < 8:
            await asyncio.sleep(0.005)
        served = await asyncio.wait_for(_get_all(client, fine, [url] * 10), timeout=4)
        hung.release.set()
        return list(await blocked), served

    try:
        stuck_results, served = asyncio.run(both())
    finally:
        hung.release.set()
    assert served == [200] * 10
    assert all(name.startswith(SIGNING_THREAD) for name in healthy.threads)
    assert hung.most_at_once == 8  # bounded: never more than its own 8 threads
    assert len(stuck_results) == 20


@pytest.mark.slow  # waits on real time or a subprocess
def test_a_signer_that_never_returns_does_not_keep_the_interpreter_from_exiting() -> None:
    script = """
import threading
from kalshi_auth import KalshiAuth, SignerError

class Hung:
    key_type = "ed25519"
    def sign(self, message):
        threading.Event().wait()  # never returns

auth = KalshiAuth("k", Hung(), signer_timeout=0.2)
try:
    auth.headers("GET", "/trade-api/v2/portfolio/balance")
except SignerError as exc:
    print("SignerError:", "did not return" in str(exc))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SignerError: True"


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), 3601, "30", True, None])
def test_signer_timeout_must_be_a_sensible_number(
    kalshi_rsa_key: rsa.RSAPrivateKey, timeout: object
) -> None:
    with pytest.raises(ConfigurationError, match="signer_timeout"):
        KalshiAuth(KEY_ID, RecordingSigner(kalshi_rsa_key), signer_timeout=timeout)  # type: ignore[arg-type]


# --- what a signer returns is checked before anything is sent ---------------------------------


class Returning:
    key_type = "rsa"

    def __init__(self, value: bytes, key_size: object = None) -> None:
        self.value = value
        if key_size is not None:
            self.key_size = key_size

    def sign(self, message: bytes) -> bytes:
        return self.value


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (b"x", "returned 1 bytes for an RSA-2048 signature, which is 256 bytes"),
        (b"\0" * 255, "returned 255 bytes"),
        (b"\0" * 257, "returned 257 bytes"),
        (b"\0" * (1 << 20), "returned 1048576 bytes"),
        (b"", "returned bytes (empty)"),
    ],
)
@pytest.mark.parametrize("client", CLIENTS)
def test_a_wrong_length_rsa_signature_is_never_sent(
    server: KalshiTestServer, client: str, value: bytes, words: str
) -> None:
    auth = KalshiAuth(KEY_ID, Returning(value))
    with pytest.raises(SignerError) as caught:
        send(client, auth, "GET", f"{server.base_url}/portfolio/balance")
    assert words in str(caught.value)
    assert server.requests == []


def test_an_rsa_signer_states_a_larger_key_size() -> None:
    key = generate_rsa_key(3072)
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, key)

    class Large(RecordingSigner):
        key_size = 3072

    auth = KalshiAuth(KEY_ID, Large(key))
    headers = auth.headers("GET", "/trade-api/v2/portfolio/balance")
    assert verifier.verify("GET", "/trade-api/v2/portfolio/balance", headers).accepted
    with pytest.raises(SignerError, match="RSA-2048 signature, which is 256 bytes"):
        KalshiAuth(KEY_ID, RecordingSigner(key)).headers("GET", "/x")  # 384 bytes returned


@pytest.mark.parametrize("key_size", [1000, 16384, 2047, "2048", True, 2048.0])
def test_a_signer_key_size_must_be_bits_of_an_rsa_key(key_size: object) -> None:
    with pytest.raises(ConfigurationError, match="key_size"):
        KalshiAuth(KEY_ID, Returning(b"", key_size=key_size))


@pytest.mark.slow  # waits on real time for hung signers
def test_requests_session_with_a_hung_signer_keeps_serving_other_auths(
    server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey
) -> None:
    # Sync clients too: a hung signer's threads are its own.
    hung = RecordingSigner(kalshi_rsa_key)
    hung.hang = True
    stuck = KalshiAuth(KEY_ID, hung, signer_timeout=0.3)
    fine = KalshiAuth(KEY_ID, RecordingSigner(kalshi_rsa_key))
    url = f"{server.base_url}/portfolio/balance"
    errors: list[BaseException] = []

    def call_stuck() -> None:
        try:
            requests.get(url, auth=stuck, timeout=10)
        except SignerError as exc:
            errors.append(exc)

    workers = [threading.Thread(target=call_stuck) for _ in range(10)]
    for worker in workers:
        worker.start()
    try:
        assert [requests.get(url, auth=fine, timeout=10).status_code for _ in range(5)] == [200] * 5
    finally:
        for worker in workers:
            worker.join(timeout=30)
        hung.release.set()
    assert len(errors) == 10


# --- the threads themselves ------------------------------------------------------------------


def test_a_thread_that_cannot_start_strands_no_later_job(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads = SigningThreads(1, "kalshi-auth-sign")
    real_start = threading.Thread.start

    def refuse(self: threading.Thread) -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    with pytest.raises(RuntimeError, match="can't start new thread"):
        threads.submit(lambda: {"n": "1"})
    assert threads.queued() == 0  # the job went with its failure
    monkeypatch.setattr(threading.Thread, "start", real_start)
    assert threads.submit(lambda: {"n": "2"}).result(timeout=10) == {"n": "2"}


@pytest.mark.slow  # waits on real time for hung signers
def test_timed_out_requests_leave_the_queue_of_a_hung_signer(
    kalshi_rsa_key: rsa.RSAPrivateKey,
) -> None:
    signer = RecordingSigner(kalshi_rsa_key)
    signer.hang = True
    auth = KalshiAuth(KEY_ID, signer, signer_timeout=0.05)
    try:
        for _ in range(40):  # 8 hang on the threads; the other 32 wait, then time out
            with pytest.raises(SignerError):
                auth.headers("GET", "/trade-api/v2/portfolio/balance")
        assert auth.core.credentials.threads.queued() == 0
    finally:
        signer.release.set()


@pytest.mark.anyio
async def test_a_cancelled_async_request_leaves_the_queue(
    kalshi_rsa_key: rsa.RSAPrivateKey,
) -> None:
    signer = RecordingSigner(kalshi_rsa_key)
    signer.hang = True
    auth = KalshiAuth(KEY_ID, signer)
    try:
        tasks = [
            asyncio.ensure_future(auth.core.headers_for_async("127.0.0.1", "GET", "/x"))
            for _ in range(12)
        ]
        while signer.running < 8:
            await asyncio.sleep(0.005)
        assert auth.core.credentials.threads.queued() == 4
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert auth.core.credentials.threads.queued() == 0
    finally:
        signer.release.set()


@pytest.mark.anyio
async def test_a_cross_origin_websocket_redirect_signs_nothing_on_the_loop(
    kalshi_rsa_key: rsa.RSAPrivateKey,
) -> None:
    # websockets reads the headers again while it handles a redirect: that read must not
    # sign (on the loop) for the hop to the other origin, which gets no headers anyway.
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, kalshi_rsa_key)
    signer = RecordingSigner(kalshi_rsa_key)
    auth = KalshiAuth(KEY_ID, signer)
    async with ws_server(verifier) as a, ws_server(verifier, host="localhost") as b:
        a.redirect = lambda path: b.url + WS_PATH if path == "/start" else None
        with pytest.raises(InvalidStatus) as refused:  # B wants a signature it never gets
            await connect(a.url + "/start", auth)
        assert refused.value.response.status_code == 401
        assert [h.verdict is not None for h in a.seen] == [True]  # A: signed
        assert [h.verdict for h in b.seen] == [None]  # B: no KALSHI-ACCESS-* header
    assert len(signer.threads) == 1  # the first attempt only, on the signer's thread
    assert signer.threads[0].startswith(SIGNING_THREAD)


# --- under trio or another anyio backend: polled, cancellable, bounded ------------------------


def signing_job(signer: RecordingSigner) -> Callable[[], dict[str, str]]:
    def job() -> dict[str, str]:
        signer.sign(b"message")
        return {}

    return job


@pytest.mark.anyio
async def test_a_polled_wait_returns_the_signature(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    credentials = KalshiAuth(KEY_ID, RecordingSigner(kalshi_rsa_key)).core.credentials
    future = credentials.threads.submit(lambda: {"signed": "yes"})
    assert await credentials.await_polled(future) == {"signed": "yes"}


@pytest.mark.anyio
async def test_a_polled_wait_is_cancelled_with_its_caller(
    kalshi_rsa_key: rsa.RSAPrivateKey,
) -> None:
    signer = RecordingSigner(kalshi_rsa_key)
    signer.hang = True
    credentials = KalshiAuth(KEY_ID, signer, signer_timeout=30).core.credentials
    try:
        hung = [credentials.threads.submit(signing_job(signer)) for _ in range(8)]
        waiting = credentials.threads.submit(lambda: {"never": "run"})
        with anyio.move_on_after(0.2) as scope:
            await credentials.await_polled(waiting)
        assert scope.cancelled_caught  # back at once, not after signer_timeout
        assert waiting.cancelled()
        assert credentials.threads.queued() == 0
    finally:
        signer.release.set()
    assert all(f.result(timeout=10) == {} for f in hung)


@pytest.mark.anyio
async def test_a_polled_wait_times_out_with_a_signer_error(
    kalshi_rsa_key: rsa.RSAPrivateKey,
) -> None:
    signer = RecordingSigner(kalshi_rsa_key)
    signer.hang = True
    credentials = KalshiAuth(KEY_ID, signer, signer_timeout=0.1).core.credentials
    try:
        future = credentials.threads.submit(signing_job(signer))
        with pytest.raises(SignerError, match="signer_timeout"):
            await credentials.await_polled(future)
    finally:
        signer.release.set()


# --- a whole request under trio: httpx's AsyncClient, no asyncio loop -----------------------


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_under_trio_a_signer_signs_off_the_loop(
    server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey, anyio_backend: str
) -> None:
    signer = RecordingSigner(kalshi_rsa_key, latency=0.01)
    auth = KalshiAuth(KEY_ID, signer)
    async with httpx.AsyncClient(auth=auth, timeout=60) as client:
        responses = [await client.get(f"{server.url}/trade-api/v2/t/{i}") for i in range(3)]
    assert [r.status_code for r in responses] == [200] * 3  # the server verified each one
    assert len(signer.threads) == 3
    assert all(name.startswith(SIGNING_THREAD) for name in signer.threads)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_under_trio_a_hung_signer_times_out_and_nothing_is_sent(
    server: KalshiTestServer, kalshi_rsa_key: rsa.RSAPrivateKey, anyio_backend: str
) -> None:
    signer = RecordingSigner(kalshi_rsa_key)
    signer.hang = True
    auth = KalshiAuth(KEY_ID, signer, signer_timeout=0.2)
    try:
        async with httpx.AsyncClient(auth=auth, timeout=60) as client:
            with pytest.raises(SignerError) as caught:
                await client.get(f"{server.url}/trade-api/v2/never")
    finally:
        signer.release.set()
    assert "within 0.2 s" in str(caught.value)  # the timeout the caller set
    assert server.requests.total == 0
