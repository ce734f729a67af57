"""Property-based: for any URL a user writes, the signature covers exactly what goes on the wire."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalshi_auth import KalshiAuth
from kalshi_auth.testing import KalshiTestServer, RecordedRequest
from kalshi_auth.testing._verifier import _signature_valid
from tests.helpers.keys import Credential

# Path segments from any printable text: reserved characters, '%', '?', '#', non-ASCII.
segment = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=0, max_size=12
)
paths = st.lists(segment, min_size=1, max_size=4).map(lambda parts: "/" + "/".join(parts))
params = st.dictionaries(
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=8),
    st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=8),
    max_size=3,
)
methods = st.sampled_from(["GET", "POST", "DELETE", "PUT"])
PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


def last(server: KalshiTestServer, before: int) -> RecordedRequest:
    assert len(server.requests) == before + 1, "exactly one request should reach the server"
    return server.requests[-1]


def send_requests(
    session: requests.Session, method: str, url: str, auth: KalshiAuth, query: dict[str, str]
) -> int:
    return session.request(method, url, params=query, auth=auth, timeout=10).status_code


def send_httpx(
    client: httpx.Client, method: str, url: str, auth: KalshiAuth, query: dict[str, str]
) -> int:
    return client.request(method, url, params=query, auth=auth).status_code


@PROPERTY_SETTINGS
@given(method=methods, path=paths, query=params)
def test_requests_signature_covers_wire_path(
    server: KalshiTestServer,
    credentials: dict[str, Credential],
    session: requests.Session,
    method: str,
    path: str,
    query: dict[str, str],
) -> None:
    before = len(server.requests)
    status = send_requests(
        session, method, server.base_url + path, credentials["rsa-pkcs1"].auth, query
    )
    record = last(server, before)
    assert record.verdict.accepted, (record.target, record.verdict.reason)
    assert status == 200
    assert record.verdict.message is not None
    signed_path = record.verdict.message[13 + len(method) :]
    assert signed_path == record.target.partition("?")[0]


@PROPERTY_SETTINGS
@given(method=methods, path=paths, query=params)
def test_httpx_signature_covers_wire_path(
    server: KalshiTestServer,
    credentials: dict[str, Credential],
    client: httpx.Client,
    method: str,
    path: str,
    query: dict[str, str],
) -> None:
    before = len(server.requests)
    status = send_httpx(client, method, server.base_url + path, credentials["ed25519"].auth, query)
    record = last(server, before)
    assert record.verdict.accepted, (record.target, record.verdict.reason)
    assert status == 200
    assert record.verdict.message is not None
    assert record.verdict.message[13 + len(method) :] == record.target.partition("?")[0]


@PROPERTY_SETTINGS
@given(library=st.sampled_from(["requests", "httpx"]), method=methods, path=paths, query=params)
def test_include_query_signs_path_and_query_as_received(
    server: KalshiTestServer,
    credentials: dict[str, Credential],
    session: requests.Session,
    client: httpx.Client,
    library: str,
    method: str,
    path: str,
    query: dict[str, str],
) -> None:
    cred = credentials["rsa-pkcs8"]
    auth = KalshiAuth(cred.key_id, cred.private_key, include_query=True)
    before = len(server.requests)
    if library == "requests":
        send_requests(session, method, server.base_url + path, auth, query)
    else:
        send_httpx(client, method, server.base_url + path, auth, query)
    record = last(server, before)
    headers = {k.lower(): v for k, v in record.headers.items()}
    message = (headers["kalshi-access-timestamp"] + method + record.target).encode()
    signature = headers["kalshi-access-signature"]
    base64.b64decode(signature, validate=True)
    assert _signature_valid(cred.private_key.public_key(), signature, message), record.target
    # Kalshi's rule (query excluded) accepts it exactly when there was no query on the wire.
    assert record.verdict.accepted == ("?" not in record.target)
