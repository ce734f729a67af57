"""kalshi-auth benchmark: what signing costs on top of the private-key operation.

    python bench/run.py            # the full run, a few minutes on 2 cores
    python bench/run.py --quick    # fewer rounds, for a smoke test

Everything is measured in this one run, on the same keys, and reported as
medians and ratios. Micro-benchmarks interleave their candidates round by
round, so a drift of the machine's speed moves the floor and the candidate
alike. Needs the dev extras (`python3 dev.py test` installs them).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import cryptography
import httpx
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from kalshi_python_sync.api.portfolio_api import PortfolioApi
from kalshi_python_sync.api_client import ApiClient
from kalshi_python_sync.auth import KalshiAuth as OfficialSdkAuth
from kalshi_python_sync.configuration import Configuration

from kalshi_auth import KalshiAuth, KalshiAuthError, __version__
from kalshi_auth._keys import load_private_key
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


def interleaved(
    candidates: dict[str, Callable[[], object]], rounds: int, batch: int
) -> dict[str, float]:
    """Median microseconds per call of each candidate, measured in alternating batches."""
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter_ns()
            for _ in range(batch):
                fn()
            samples[name].append((time.perf_counter_ns() - start) / batch / 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def bare_sign(key: Key) -> Callable[[], object]:
    if isinstance(key, rsa.RSAPrivateKey):
        return lambda: key.sign(MESSAGE, PSS, SHA256)
    return lambda: key.sign(MESSAGE)


def naive_signer(pem: bytes) -> Callable[[], object]:
    """What hand-rolled code often does: parse the PEM on every call."""

    def sign() -> dict[str, str]:
        key = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        ts = str(int(time.time() * 1000))
        signature = key.sign(f"{ts}GET/trade-api/v2/markets".encode(), PSS, SHA256)
        return {"KALSHI-ACCESS-SIGNATURE": base64.b64encode(signature).decode()}

    return sign


def _httpx_flow(auth: KalshiAuth, request: httpx.Request) -> httpx.Request:
    return next(auth.sync_auth_flow(request))


def per_request(keys: dict[str, Key], rounds: int, rows: list[list[str]]) -> None:
    prepared = requests.Request("GET", URL, params={"limit": 5}).prepare()
    request = httpx.Request("GET", URL, params={"limit": 5})
    for name, key in keys.items():
        auth = KalshiAuth(KEY_ID, key)
        candidates: dict[str, Callable[[], object]] = {
            "floor": bare_sign(key),
            "auth.headers()": partial(auth.headers, "GET", "/trade-api/v2/markets"),
            "requests: auth(prepared)": partial(auth, prepared),
            "httpx: sync_auth_flow": partial(_httpx_flow, auth, request),
        }
        if name == "RSA-2048":
            pem = private_key_pem(key, encoding="pkcs1")
            sdk = OfficialSdkAuth(KEY_ID, pem.decode())
            candidates["official SDK create_auth_headers"] = partial(
                sdk.create_auth_headers, "GET", URL
            )
            candidates["naive: parse PEM per call"] = naive_signer(pem)
        batch = 20 if isinstance(key, rsa.RSAPrivateKey) else 200
        medians = interleaved(candidates, rounds, batch)
        floor = medians["floor"]
        for label, value in medians.items():
            ratio = "1.000x" if label == "floor" else f"{value / floor:.3f}x"
            extra = "" if label == "floor" else f"{value - floor:+.1f}"
            rows.append([name, label, f"{value:.1f}", extra, ratio])


def threads(key: Key, seconds: float) -> tuple[float, float]:
    """Signatures per second with one thread and with two, sharing one KalshiAuth."""
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
    for _ in range(3):  # interleaved
        one.append(rate(1))
        two.append(rate(2))
    return statistics.median(one), statistics.median(two)


async def _concurrent(base: str, auth: KalshiAuth | None, n: int) -> tuple[float, float]:
    """(requests per second, longest event-loop stall in ms) for n concurrent GETs."""
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
        start = time.perf_counter()
        await asyncio.gather(*(client.get(f"/markets/M{i}") for i in range(n)))
        elapsed = time.perf_counter() - start
        done.set()
        await tick
    return n / elapsed, stall


def asyncio_rows(keys: dict[str, Key], rounds: int, rows: list[list[str]]) -> None:
    with server_process(
        {"rsa": keys["RSA-2048"], "ed": keys["Ed25519"]}, max_past_ms=120_000
    ) as server:
        configs: dict[str, KalshiAuth | None] = {
            "no auth (401s)": None,
            "RSA-2048, inline": KalshiAuth("rsa", keys["RSA-2048"], offload_signing=False),
            "RSA-2048, worker thread": KalshiAuth("rsa", keys["RSA-2048"]),
            "Ed25519, inline": KalshiAuth("ed", keys["Ed25519"]),
        }
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in configs}
        for _ in range(rounds):
            for name, auth in configs.items():
                results[name].append(asyncio.run(_concurrent(server.base_url, auth, 200)))
    for name, runs in results.items():
        rate = statistics.median(r for r, _ in runs)
        stall = statistics.median(s for _, s in runs)
        rows.append([name, f"{rate:.0f}", f"{stall:.2f}"])


def end_to_end(keys: dict[str, Key], n: int, rows: list[list[str]]) -> None:
    key = keys["RSA-2048"]
    with server_process({KEY_ID: key}) as server:
        auth = KalshiAuth(KEY_ID, key)
        sdk_client = ApiClient(Configuration(host=server.base_url))
        sdk_client.kalshi_auth = OfficialSdkAuth(  # type: ignore[assignment]
            KEY_ID, private_key_pem(key, encoding="pkcs1").decode()
        )
        portfolio = PortfolioApi(sdk_client)
        session = requests.Session()
        session.auth = auth
        client = httpx.Client(base_url=server.base_url, auth=auth)
        balance = f"{server.base_url}/portfolio/balance"
        candidates: dict[str, Callable[[], Any]] = {
            "official SDK (kalshi-python-sync) get_balance()": portfolio.get_balance,
            "requests.Session + KalshiAuth": lambda: session.get(balance).raise_for_status(),
            "httpx.Client + KalshiAuth": lambda: client.get(
                "/portfolio/balance"
            ).raise_for_status(),
        }
        medians = interleaved(candidates, n, 10)
        session.close()
        client.close()
    sdk = medians["official SDK (kalshi-python-sync) get_balance()"]
    for label, value in medians.items():
        rows.append([label, f"{value / 1000:.2f}", f"{value / sdk:.2f}x"])


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
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke test)")
    args = parser.parse_args()
    rounds = 5 if args.quick else 41
    keys: dict[str, Key] = {
        "RSA-2048": generate_rsa_key(2048),
        "RSA-4096": generate_rsa_key(4096),
        "Ed25519": generate_ed25519_key(),
    }
    print(
        f"kalshi-auth {__version__}, cryptography {cryptography.__version__}, "
        f"httpx {httpx.__version__}, requests {requests.__version__}, "
        f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.platform()}\n"
    )
    rows: list[list[str]] = []
    per_request(keys, rounds, rows)
    print("Per request (median µs per call; ratio to the bare cryptography sign):\n")
    print(table(["key", "what", "µs", "over floor", "ratio"], rows) + "\n")

    one, two = threads(keys["RSA-2048"], 0.5 if args.quick else 2.0)
    print("Threads, RSA-2048, one shared KalshiAuth (signatures per second):\n")
    print(
        table(
            ["1 thread", "2 threads", "speed-up"],
            [[f"{one:.0f}", f"{two:.0f}", f"{two / one:.2f}x"]],
        )
        + "\n"
    )

    rows = []
    asyncio_rows(keys, 3 if args.quick else 9, rows)
    print("asyncio: 200 concurrent httpx GETs to the local verifying server (own process):\n")
    print(table(["auth", "requests/s", "longest loop stall (ms)"], rows) + "\n")

    rows = []
    hostile_inputs(rows, 3 if args.quick else 11)
    print("Refusing hostile key input (ms, wall clock; each is refused):\n")
    print(table(["input", "median ms", "max ms"], rows) + "\n")

    rows = []
    end_to_end(keys, 5 if args.quick else 21, rows)
    print("End to end: GET /portfolio/balance against the local server, one connection:\n")
    print(table(["client", "ms per request", "ratio to the SDK"], rows))


if __name__ == "__main__":
    main()
