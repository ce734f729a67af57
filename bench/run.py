"""kalshi-auth benchmark: what a signed request costs on top of the private-key operation.

    python bench/run.py            # the full run, a few minutes on 2 cores
    python bench/run.py --quick    # a smoke run, under 5 s

How it measures (docs/performance.md says why):
- each candidate gets fresh request objects, built outside the timer, with no
  KALSHI-ACCESS-* headers yet, and runs its whole flow (the response half too);
- time is this thread's CPU time, on one pinned CPU;
- candidates alternate within every round, so drift moves them all alike;
- the tables give medians and their spread (25th to 75th percentile), and
  ratios to the floor: a bare `cryptography` sign timed the same way.
Needs the dev extras (`python3 dev.py test` installs them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp
import cryptography
import httpx
import requests
import yarl
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from kalshi_python_sync.auth import KalshiAuth as OfficialSdkAuth
from multidict import CIMultiDict, CIMultiDictProxy

from kalshi_auth import KalshiAuth, KalshiAuthError, __version__
from kalshi_auth._keys import load_private_key
from kalshi_auth.aiohttp import KalshiAuthMiddleware
from kalshi_auth.testing import (
    generate_ed25519_key,
    generate_rsa_key,
    private_key_pem,
    server_process,
)

PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
SHA256 = hashes.SHA256()
MESSAGE = b"1703123456789GET/trade-api/v2/portfolio/balance"
KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
URL = "https://external-api.kalshi.com/trade-api/v2/markets"

Key = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
# run(n) performs n operations and returns this thread's CPU time for them, in ns.
Runner = Callable[[int], int]


@dataclass(frozen=True)
class Stats:
    median: float  # µs per operation
    low: float  # 25th percentile
    high: float  # 75th percentile

    def ratio(self, floor: Stats) -> str:
        return f"{self.median / floor.median:.3f}x"

    def spread(self) -> str:
        return f"{self.low:.1f} to {self.high:.1f}"


@contextlib.contextmanager
def one_cpu() -> Iterator[str]:
    """Run on one CPU: the two vCPUs of a cloud VM may sign at different speeds."""
    if not hasattr(os, "sched_setaffinity"):
        yield "not pinned (no sched_setaffinity here)"
        return
    allowed = os.sched_getaffinity(0)
    cpu = min(allowed)
    os.sched_setaffinity(0, {cpu})
    try:
        yield f"pinned to CPU {cpu}"
    finally:
        os.sched_setaffinity(0, allowed)


def measure(candidates: dict[str, Runner], rounds: int, batch: int) -> dict[str, Stats]:
    """Each candidate's µs per operation over `rounds`, alternating candidates in each."""
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    names = list(candidates)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:  # rotate the order
            samples[name].append(candidates[name](batch) / batch / 1000)
    out = {}
    for name, values in samples.items():
        q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
        out[name] = Stats(statistics.median(values), q[0], q[2])
    return out


# --- the candidates: each builds its inputs, then times only the flow --------------------------


def timed(
    n: int,
    make: Callable[[], Any],
    run: Callable[[Any], object],
    cpu: Callable[[], int] = time.thread_time_ns,
) -> int:
    inputs = [make() for _ in range(n)]
    start = cpu()
    for item in inputs:
        run(item)
    return cpu() - start


def floor_runner(key: Key) -> Runner:
    if isinstance(key, rsa.RSAPrivateKey):
        return lambda n: timed(n, lambda: MESSAGE, lambda m: key.sign(m, PSS, SHA256))
    return lambda n: timed(n, lambda: MESSAGE, key.sign)


def headers_runner(auth: KalshiAuth) -> Runner:
    return lambda n: timed(n, lambda: URL, lambda url: auth.headers("GET", url))


def requests_runner(auth: KalshiAuth) -> Runner:
    prepared = requests.Request("GET", URL, params={"limit": 5}).prepare()
    return lambda n: timed(n, prepared.copy, auth)


OK_RESPONSE = httpx.Response(200)


def httpx_sync_runner(auth: KalshiAuth, cpu: Callable[[], int] = time.thread_time_ns) -> Runner:
    def flow(request: httpx.Request) -> None:  # as httpx.Client._send_handling_auth drives it
        steps = auth.sync_auth_flow(request)
        next(steps)
        try:  # noqa: SIM105 - as httpx does it; suppress() would cost more than we measure
            steps.send(OK_RESPONSE)
        except StopIteration:
            pass

    return lambda n: timed(n, lambda: httpx.Request("GET", URL, params={"limit": 5}), flow, cpu)


def async_runner(batch: Callable[[int], Coroutine[Any, Any, int]]) -> Runner:
    """Each async candidate runs on an event loop of its own, kept warm like a bot's."""
    loop = asyncio.new_event_loop()
    return lambda n: loop.run_until_complete(batch(n))


def httpx_async_runner(auth: KalshiAuth) -> Runner:
    async def batch(n: int) -> int:
        requests_ = [httpx.Request("GET", URL, params={"limit": 5}) for _ in range(n)]
        start = time.thread_time_ns()
        for request in requests_:
            steps = auth.async_auth_flow(request)
            await steps.__anext__()
            try:  # noqa: SIM105 - as httpx does it
                await steps.asend(OK_RESPONSE)
            except StopAsyncIteration:
                pass
        return time.thread_time_ns() - start

    return async_runner(batch)


class _StubResponse:
    """What the middleware reads of a response: status and headers."""

    status = 200
    headers: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


def aiohttp_runner(auth: KalshiAuth) -> Runner:
    middleware = KalshiAuthMiddleware(auth)
    response = _StubResponse()

    async def handler(request: aiohttp.ClientRequest) -> Any:
        return response

    async def batch(n: int) -> int:
        loop = asyncio.get_running_loop()
        url = yarl.URL(URL).with_query({"limit": 5})
        requests_ = [aiohttp.ClientRequest("GET", url, loop=loop) for _ in range(n)]
        start = time.thread_time_ns()
        for request in requests_:
            await middleware(request, handler)
        return time.thread_time_ns() - start

    return async_runner(batch)


class InProcessSigner:
    """The external-signer path: a `Signer` wrapping a local key, as thin as one can be."""

    sign: Callable[[bytes], bytes]

    def __init__(self, key: Key) -> None:
        self.key_type = "rsa" if isinstance(key, rsa.RSAPrivateKey) else "ed25519"
        if isinstance(key, rsa.RSAPrivateKey):
            self.sign = partial(key.sign, padding=PSS, algorithm=SHA256)
        else:
            self.sign = key.sign


def official_runner(key: rsa.RSAPrivateKey) -> Runner:
    sdk = OfficialSdkAuth(KEY_ID, private_key_pem(key, encoding="pkcs1").decode())
    return lambda n: timed(n, lambda: URL, lambda url: sdk.create_auth_headers("GET", url))


def per_request(keys: dict[str, Key], rounds: int, rows: list[list[str]]) -> None:
    for name, key in keys.items():
        # Inline here: off the loop, the signature's CPU time would land on another thread.
        auth = KalshiAuth(KEY_ID, key)
        auth.core.credentials.off_loop = False
        candidates: dict[str, Runner] = {
            "floor: bare cryptography sign": floor_runner(key),
            "auth.headers(url)": headers_runner(auth),
            "requests: auth(prepared)": requests_runner(auth),
            "httpx Client: whole auth flow": httpx_sync_runner(auth),
            "httpx AsyncClient: whole auth flow": httpx_async_runner(auth),
            "aiohttp: middleware": aiohttp_runner(auth),
            # A Signer signs on its own thread: this row counts the process's CPU, every
            # thread, so the hand-off and the signature are both in it.
            "external Signer, httpx Client flow (process CPU)": httpx_sync_runner(
                KalshiAuth(KEY_ID, InProcessSigner(key)), time.process_time_ns
            ),
        }
        if isinstance(key, rsa.RSAPrivateKey):
            candidates["official SDK: create_auth_headers"] = official_runner(key)
        batch = 40 if isinstance(key, rsa.RSAPrivateKey) else 200
        results = measure(candidates, rounds, batch)
        floor = results["floor: bare cryptography sign"]
        for label, stats in results.items():
            rows.append([name, label, f"{stats.median:.1f}", stats.spread(), stats.ratio(floor)])


# --- threads, asyncio, hostile input ----------------------------------------------------------


def threads(key: Key, seconds: float) -> tuple[float, float]:
    """Signatures per second (wall clock) with one thread and with two, one shared auth."""
    auth = KalshiAuth(KEY_ID, key)

    def rate(n_threads: int) -> float:
        counts = [0] * n_threads
        stop = time.perf_counter() + seconds

        def work(i: int) -> None:
            while time.perf_counter() < stop:
                auth.headers("GET", "/trade-api/v2/portfolio/balance")
                counts[i] += 1

        workers = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return sum(counts) / seconds

    one, two = [], []
    for _ in range(3):
        one.append(rate(1))
        two.append(rate(2))
    return statistics.median(one), statistics.median(two)


async def _concurrent(base: str, auth: KalshiAuth | None, n: int) -> tuple[float, float, float]:
    """(requests per second, longest event-loop stall in ms, this process's CPU µs per
    request, every thread counted) for n concurrent GETs."""
    stall = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal stall
        while not done.is_set():
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            stall = max(stall, (time.perf_counter() - start - 0.001) * 1000)

    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=base, auth=auth, limits=limits, timeout=60) as client:
        await client.get("/exchange/status")  # open the pool before measuring
        tick = asyncio.create_task(ticker())
        cpu = time.process_time_ns()
        start = time.perf_counter()
        await asyncio.gather(*(client.get(f"/markets/M{i}") for i in range(n)))
        elapsed = time.perf_counter() - start
        cpu = time.process_time_ns() - cpu
        done.set()
        await tick
    return n / elapsed, stall, cpu / n / 1000


ON_LOOP = "RSA-2048, signed on the event loop"
OFF_LOOP = "RSA-2048, on the key's own signing thread (default)"


def asyncio_rows(keys: dict[str, Key], rounds: int, n: int, rows: list[list[str]]) -> None:
    with server_process(
        {"rsa": keys["RSA-2048"], "ed": keys["Ed25519"]}, max_past_ms=120_000
    ) as server:
        inline = KalshiAuth("rsa", keys["RSA-2048"])
        inline.core.credentials.off_loop = False
        configs: dict[str, KalshiAuth | None] = {
            "no auth (401s)": None,
            ON_LOOP: inline,
            OFF_LOOP: KalshiAuth("rsa", keys["RSA-2048"]),
            "Ed25519, on the event loop (default)": KalshiAuth("ed", keys["Ed25519"]),
        }
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in configs}
        for _ in range(rounds):
            for name, auth in configs.items():
                results[name].append(asyncio.run(_concurrent(server.base_url, auth, n)))
    cpu = {name: statistics.median(c for _, _, c in runs) for name, runs in results.items()}
    for name, runs in results.items():
        rate = statistics.median(r for r, _, _ in runs)
        stall = statistics.median(s for _, s, _ in runs)
        worst = max(s for _, s, _ in runs)
        rows.append([name, f"{rate:.0f}", f"{stall:.1f}", f"{worst:.1f}", f"{cpu[name]:.0f}"])
    extra = cpu[OFF_LOOP] - cpu[ON_LOOP]
    rows.append(["off-loop signing's extra CPU per request", "", "", "", f"{extra:+.0f}"])


def failed_import_us(repeats: int) -> float:
    """What httpcore pays on every async request when sniffio is not installed."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        with contextlib.suppress(ImportError):
            __import__("kalshi_auth_no_such_module")
        times.append((time.perf_counter_ns() - start) / 1000)
    return statistics.median(times)


def hostile_inputs(rows: list[list[str]], repeats: int) -> None:
    """How long the key loader takes to refuse inputs built to make a parser slow."""
    big = "-----BEGIN RSA PRIVATE KEY-----\n" + "A" * 10_000_000 + "\n-----END RSA PRIVATE KEY-----"
    inputs: dict[str, object] = {
        "10 MB PEM body (str)": big,
        "10 MB PEM body (bytes)": big.encode(),
        "200 KB of spaces after -----BEGIN": "-----BEGIN" + " " * 200_000,
        # Just under the 64 KiB cap: these reach the parser.
        "60 KB of spaces after -----BEGIN": "-----BEGIN" + " " * 60_000,
        "'-----' x 12 000": "-----" * 12_000,
        "'-----BEGIN ' x 5 000": "-----BEGIN " * 5_000,
        "'END PRIVATE KEY' x 4 000, one BEGIN": "-----BEGIN PRIVATE KEY-----"
        + "END PRIVATE KEY" * 4_000,
        "'Proc-Type: ' x 5 000": "-----BEGIN RSA PRIVATE KEY-----\n"
        + "Proc-Type: " * 5_000
        + "\n-----END RSA PRIVATE KEY-----",
        "60 000 quotes": '"' * 60_000,
        "/dev/zero as the path": "/dev/zero",
    }
    for name, source in inputs.items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            with contextlib.suppress(KalshiAuthError):
                load_private_key(source)
            times.append((time.perf_counter() - start) * 1000)
        rows.append([name, f"{statistics.median(times):.2f}", f"{max(times):.2f}"])


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=False)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False)) + " |"

    return "\n".join(
        [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run, under 5 s")
    args = parser.parse_args()
    quick = args.quick
    keys: dict[str, Key] = {"RSA-2048": generate_rsa_key(2048), "Ed25519": generate_ed25519_key()}
    print(
        f"kalshi-auth {__version__}, cryptography {cryptography.__version__}, "
        f"httpx {httpx.__version__}, requests {requests.__version__}, "
        f"aiohttp {aiohttp.__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}\n"
    )
    rows: list[list[str]] = []
    with one_cpu() as pinned:
        per_request(keys, 3 if quick else 41, rows)
    print(
        f"Per request ({pinned}): this thread's CPU µs per call (median, and 25th to 75th "
        "percentile); ratio to the floor:\n"
    )
    print(table(["key", "path", "µs", "spread", "ratio"], rows) + "\n")

    one, two = threads(keys["RSA-2048"], 0.1 if quick else 2.0)
    print("Threads, RSA-2048, one shared KalshiAuth (signatures per second, wall clock):\n")
    print(
        table(
            ["1 thread", "2 threads", "speed-up"],
            [[f"{one:.0f}", f"{two:.0f}", f"{two / one:.2f}x"]],
        )
        + "\n"
    )

    rows = []
    n = 20 if quick else 100
    asyncio_rows(keys, 1 if quick else 9, n, rows)
    print(
        f"asyncio: {n} concurrent httpx GETs over loopback to the verifying server in its own "
        "process (median of rounds; stalls in ms; CPU: this process, every thread, µs per "
        "request):\n"
    )
    print(
        table(["auth", "requests/s", "longest stall", "worst round", "CPU µs/request"], rows) + "\n"
    )
    print(
        f"A failed `import` of a missing module costs {failed_import_us(200):.0f} µs here; "
        "httpcore pays it on every async request when sniffio is missing.\n"
    )

    rows = []
    hostile_inputs(rows, 1 if quick else 11)
    print("Refusing hostile key input (ms, wall clock; each is refused):\n")
    print(table(["input", "median ms", "max ms"], rows))


if __name__ == "__main__":
    main()
