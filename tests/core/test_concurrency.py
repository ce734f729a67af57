"""One KalshiAuth shared by many threads and many asyncio tasks: every request verifies."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import requests

from kalshi_auth.testing import KalshiTestServer
from tests.helpers.keys import Credential

pytestmark = pytest.mark.slow  # many threads and tasks on real servers


def test_threads_share_one_auth(server: KalshiTestServer, credential: Credential) -> None:
    auth = credential.auth

    def worker(n: int) -> list[int]:
        statuses = []
        with requests.Session() as session, httpx.Client(auth=auth) as client:
            session.auth = auth
            for i in range(10):
                url = f"{server.base_url}/markets/T{n}-{i}"
                statuses.append(session.get(url, params={"i": i}, timeout=10).status_code)
                statuses.append(client.get(url, params={"i": i}).status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = [s for statuses in pool.map(worker, range(8)) for s in statuses]
    assert len(results) == 160
    assert set(results) == {200}


@pytest.mark.anyio
async def test_async_tasks_share_one_auth(server: KalshiTestServer, credential: Credential) -> None:
    limits = httpx.Limits(max_connections=50)
    # A generous timeout: on 2 loaded cores 200 requests through 50 connections can wait
    # seconds for the server; this test is about signatures, not speed.
    async with httpx.AsyncClient(
        base_url=server.base_url, auth=credential.auth, limits=limits, timeout=60
    ) as c:
        responses = await asyncio.gather(
            *(c.get(f"/markets/A{i}", params={"i": i}) for i in range(200))
        )
    assert [r.status_code for r in responses] == [200] * 200
    assert {r.json()["path"] for r in responses} == {
        f"/trade-api/v2/markets/A{i}" for i in range(200)
    }
