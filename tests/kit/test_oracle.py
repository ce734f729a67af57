"""The testing kit is an oracle only if it would catch the library's own mistakes.

Its verifier shares no code with the signer (tests/test_architecture.py checks the imports);
here a broken signing stage is rejected by it, and its verdicts agree, case by case, with a
second verifier written below from Kalshi's documentation.
"""

from __future__ import annotations

import asyncio
import base64
import random
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

import aiohttp
import httpx
import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

import kalshi_auth._core
import kalshi_auth._signing
from kalshi_auth import ConfigurationError, InvalidPrivateKeyError, KalshiAuth
from kalshi_auth.aiohttp import session_options
from kalshi_auth.testing import (
    INCORRECT_SIGNATURE,
    KEY_NOT_FOUND,
    SIGNATURE_MISSING,
    TIMESTAMP_EXPIRED,
    KalshiTestServer,
    KalshiVerifier,
    RecordedRequest,
    Verdict,
    private_key_pem,
)

KEY_ID = "00000000-0000-4000-8000-0000000004c1"


def keeps_the_query(target: str, *, include_query: bool = False) -> str:
    """`signing_path` with the bug the seed guide teaches: the query signed too."""
    return target.partition("#")[0]


def lower_cases_the_method(timestamp: str, method: str, path: str) -> bytes:
    """`string_to_sign` with the method left as typed ("get")."""
    return f"{timestamp}{method.lower()}{path}".encode()


BROKEN_STAGES: dict[str, tuple[str, Callable[..., object]]] = {
    "signing_path keeps the query": ("signing_path", keeps_the_query),
    "string_to_sign lower-cases the method": ("string_to_sign", lower_cases_the_method),
}


def break_where_production_calls_it(monkeypatch: pytest.MonkeyPatch, stage: str) -> None:
    """Replace the name `SigningCore._make_headers` calls (imported by name into `_core`)."""
    name, broken = BROKEN_STAGES[stage]
    monkeypatch.setattr(kalshi_auth._core, name, broken)


def break_at_the_source(monkeypatch: pytest.MonkeyPatch, stage: str) -> None:
    """Edit the function's body in `_signing`, as a regression there would: every module
    that imported the function, a verifier sharing it included, runs the broken body."""
    name, broken = BROKEN_STAGES[stage]
    monkeypatch.setattr(getattr(kalshi_auth._signing, name), "__code__", broken.__code__)


@pytest.mark.parametrize("stage", sorted(BROKEN_STAGES))
@pytest.mark.parametrize("breaks", [break_where_production_calls_it, break_at_the_source])
def test_a_broken_signing_stage_is_rejected_by_the_kit(
    monkeypatch: pytest.MonkeyPatch,
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
    breaks: Callable[[pytest.MonkeyPatch, str], None],
    stage: str,
) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)
    with KalshiTestServer({KEY_ID: kalshi_ed25519_key}) as server:
        url = server.base_url + "/portfolio/orders?limit=5&status=resting"
        assert requests.get(url, auth=auth, timeout=10).status_code == 200  # sound as shipped
        breaks(monkeypatch, stage)
        answer = requests.get(url, auth=auth, timeout=10)
        monkeypatch.undo()
        verdict = server.requests[-1].verdict
    assert answer.status_code == 401, f"the kit accepted {verdict.message!r}"
    assert answer.json() == INCORRECT_SIGNATURE
    assert "INCORRECT_API_KEY_SIGNATURE" in answer.text


# Registration reads keys with cryptography's loaders, not the library's `_keys`.
Enc = serialization.Encoding
PublicFormat = serialization.PublicFormat


@pytest.mark.parametrize(
    "form",
    ["object", "public object", "pkcs1 pem", "pkcs8 pem", "pkcs8 pem str", "public pem",
     "public pem str", "pkcs8 der", "public der", "openssh public"],
)  # fmt: skip
def test_the_kit_registers_a_key_in_every_plain_form(
    kalshi_rsa_key: rsa.RSAPrivateKey, form: str
) -> None:
    public = kalshi_rsa_key.public_key()
    forms: dict[str, object] = {
        "object": kalshi_rsa_key,
        "public object": public,
        "pkcs1 pem": private_key_pem(kalshi_rsa_key, encoding="pkcs1"),
        "pkcs8 pem": private_key_pem(kalshi_rsa_key),
        "pkcs8 pem str": private_key_pem(kalshi_rsa_key).decode(),
        "public pem": public.public_bytes(Enc.PEM, PublicFormat.SubjectPublicKeyInfo),
        "public pem str": public.public_bytes(Enc.PEM, PublicFormat.SubjectPublicKeyInfo).decode(),
        "pkcs8 der": kalshi_rsa_key.private_bytes(
            Enc.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        "public der": public.public_bytes(Enc.DER, PublicFormat.SubjectPublicKeyInfo),
        "openssh public": public.public_bytes(Enc.OpenSSH, PublicFormat.OpenSSH),
    }
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, forms[form])
    registered = verifier.keys[KEY_ID]
    assert isinstance(registered, rsa.RSAPublicKey)
    assert registered.public_numbers() == public.public_numbers()
    headers = KalshiAuth(KEY_ID, kalshi_rsa_key).headers("GET", "/trade-api/v2/portfolio/balance")
    assert verifier.verify("GET", "/trade-api/v2/portfolio/balance", headers).accepted


def test_the_kit_refuses_what_holds_no_usable_key(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    refused: dict[str, tuple[object, str]] = {
        "encrypted": (private_key_pem(kalshi_rsa_key, password="pw"), "unencrypted"),
        "EC private": (
            ec_key.private_bytes(
                Enc.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            "neither RSA nor Ed25519",
        ),
        "EC public": (
            ec_key.public_key().public_bytes(Enc.PEM, PublicFormat.SubjectPublicKeyInfo),
            "neither RSA nor Ed25519",
        ),
        "truncated": (private_key_pem(kalshi_rsa_key)[:300], "no unencrypted"),
        "junk": ("not a key", "no unencrypted"),
        "a number": (42, "not int"),
    }
    for name, (key, words) in refused.items():
        # a KalshiAuthError like the signer's own, so one `except` serves both
        with pytest.raises(InvalidPrivateKeyError, match=words):
            KalshiVerifier().register(name, key)


@pytest.mark.parametrize("key_id", ["", 42, None, b"id"])
def test_the_kit_refuses_a_key_id_that_is_not_a_string(
    key_id: object, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    verifier = KalshiVerifier()
    with pytest.raises(ConfigurationError, match="non-empty str") as caught:
        verifier.register(key_id, kalshi_ed25519_key)  # type: ignore[arg-type]
    assert type(key_id).__name__ in str(caught.value)
    assert verifier.keys == {}


# ---------------------------------------------------------------------------------------
# The differential test: every client's requests, and wrong variants of their signatures,
# judged by the kit and by a second verifier written here from Kalshi's documentation.

NOW = 1_764_000_000_000
SEED = 1234
URLS_PER_CLIENT = 200
DIFF_CLIENTS = ["requests", "httpx", "httpx-async", "aiohttp", "headers"]
METHODS = ["GET", "POST", "DELETE", "PUT"]
SEGMENTS = [
    "markets", "portfolio", "orders", "KXHIGHNY-26JAN01-T45", "events", "v2",
    "~user", "%7Euser", "a%20b", "a b", "caf%C3%A9", "café", "€", "📈", "日本",
    "%2F", "x%41y", "%25", "a+b", "a=b", "a;b", "a:b", "@x", "!*'()", "$,&",
    ".", "..", "...", ".hidden", "", "",
]  # fmt: skip
QUERIES = [
    "limit=5", "status=open&limit=100", "q=a%20b", "q=a b", "ticker=KX~1", "x=%7E",
    "ü=€", "a=/b?c", "", "cursor=abc%3D%3D&limit=5", "empty=", "flag",
]  # fmt: skip
FRAGMENTS = ["frag", "a?b", "", "x/y#z"]


def generated_urls(rng: random.Random, origin: str, count: int) -> list[tuple[str, str]]:
    """`count` (method, URL) pairs: Kalshi-like paths, and paths with percent-encoding,
    ``~``, unicode, dot segments, trailing and repeated slashes, queries and fragments."""
    urls = []
    for _ in range(count):
        prefix = "/trade-api/v2" if rng.random() < 0.8 else ""
        path = prefix + "".join("/" + rng.choice(SEGMENTS) for _ in range(rng.randint(1, 5)))
        if rng.random() < 0.25:
            path += "/"
        query = "?" + "&".join(rng.sample(QUERIES, rng.randint(1, 3))) if rng.random() < 0.5 else ""
        fragment = "#" + rng.choice(FRAGMENTS) if rng.random() < 0.2 else ""
        urls.append((rng.choice(METHODS), origin + path + query + fragment))
    return urls


# The second verifier: Kalshi's rule as its documentation states it, on the request as it
# arrived. It shares nothing with the library or the kit, and is deliberately plain.
AnyPublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey


def kalshi_docs_verdict(
    method: str, target: str, headers: Mapping[str, str], keys: Mapping[str, AnyPublicKey]
) -> str:
    """Return "accepted", or why Kalshi would answer 401."""
    sent = {name.lower(): value for name, value in headers.items()}
    if "kalshi-access-signature" not in sent:
        return "signature missing"
    timestamp = sent.get("kalshi-access-timestamp", "")
    # Milliseconds; measured by others: 10 s late and 30 s early are still accepted.
    if not (timestamp.isascii() and timestamp.isdigit()):
        return "timestamp expired"
    if not -10_000 <= int(timestamp) - NOW <= 30_000:
        return "timestamp expired"
    public = keys.get(sent.get("kalshi-access-key", ""))
    if public is None:
        return "key not found"
    # "timestamp + method + path", "use the path without query parameters".
    message = (timestamp + method + target.split("?", maxsplit=1)[0]).encode()
    signature = base64.b64decode(sent["kalshi-access-signature"])
    if isinstance(public, ed25519.Ed25519PublicKey):
        try:
            public.verify(signature, message)
        except InvalidSignature:
            return "incorrect signature"
        return "accepted"
    # RSA-PSS, SHA-256, MGF1(SHA-256): the SDKs' salt (digest length) or the seed guide's.
    for salt in ("digest", "max"):
        try:
            public.verify(signature, message, pss(salt), hashes.SHA256())
        except InvalidSignature:
            continue
        return "accepted"
    return "incorrect signature"


def pss(salt: str) -> padding.PSS:
    """RSA-PSS with SHA-256 and MGF1(SHA-256); salt "digest" (32 bytes) or "max"."""
    length = padding.PSS.MAX_LENGTH if salt == "max" else padding.PSS.DIGEST_LENGTH
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=length)


def kit_verdict(verdict: Verdict) -> str:
    """The kit's `Verdict` in the reference's words, by the body it answers with."""
    if verdict.accepted:
        return "accepted"
    bodies = {
        "timestamp expired": TIMESTAMP_EXPIRED,
        "key not found": KEY_NOT_FOUND,
        "incorrect signature": INCORRECT_SIGNATURE,
        "signature missing": SIGNATURE_MISSING,
    }
    return next(name for name, body in bodies.items() if verdict.body == body)


PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def signature_of(key: PrivateKey, message: str, scheme: str = "pss-digest") -> str:
    raw = message.encode()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return base64.b64encode(key.sign(raw)).decode()
    schemes: dict[str, padding.AsymmetricPadding] = {
        "pss-digest": pss("digest"),
        "pss-max": pss("max"),
        "pkcs1v15": padding.PKCS1v15(),
    }
    return base64.b64encode(key.sign(raw, schemes[scheme], hashes.SHA256())).decode()


# Each wrong variant: the mistake, and what Kalshi answers (any verdict but "accepted"
# is a rejection). A variant is made only where it changes the message.
EXPECTED = {
    "as sent": "accepted",
    "query signed": "incorrect signature",
    "method lower-cased": "incorrect signature",
    "path percent-decoded": "incorrect signature",
    "trailing slash dropped": "incorrect signature",
    "timestamp in seconds": "timestamp expired",
    "RSA-PSS, maximum salt": "accepted",
    "RSA, PKCS#1 v1.5": "incorrect signature",
}


def wrong_variants(
    record: RecordedRequest, key_id: str, key: PrivateKey
) -> dict[str, dict[str, str]]:
    """Headers for `record` signed with one mistake each, made here with `key` directly."""
    method, target = record.method, record.target
    path = target.split("?")[0]
    millis, seconds = str(NOW), str(NOW // 1000)
    messages = {
        "query signed": (millis, millis + method + target),
        "method lower-cased": (millis, millis + method.lower() + path),
        "path percent-decoded": (millis, millis + method + unquote(path)),
        "trailing slash dropped": (millis, millis + method + path.rstrip("/")),
        "timestamp in seconds": (seconds, seconds + method + path),
    }
    right = millis + method + path
    headers = {
        name: {
            "KALSHI-ACCESS-KEY": key_id,
            "KALSHI-ACCESS-TIMESTAMP": timestamp,
            "KALSHI-ACCESS-SIGNATURE": signature_of(key, message),
        }
        for name, (timestamp, message) in messages.items()
        if message != right
    }
    if isinstance(key, rsa.RSAPrivateKey):
        for name, scheme in (
            ("RSA-PSS, maximum salt", "pss-max"),
            ("RSA, PKCS#1 v1.5", "pkcs1v15"),
        ):
            headers[name] = {
                "KALSHI-ACCESS-KEY": key_id,
                "KALSHI-ACCESS-TIMESTAMP": millis,
                "KALSHI-ACCESS-SIGNATURE": signature_of(key, right, scheme),
            }
    return headers


@dataclass(frozen=True)
class Case:
    method: str
    url: str
    key_id: str


RSA_ID = "00000000-0000-4000-8000-0000000004a1"
ED_ID = "00000000-0000-4000-8000-0000000004e1"


def body_for(method: str) -> dict[str, object] | None:
    return {"ticker": "KXHIGHNY", "count": 1} if method in ("POST", "PUT") else None


def send_all(client: str, auth: KalshiAuth, cases: list[Case]) -> None:
    """Send `cases` in order through one session of `client`, set up as tests/helpers/clients.py
    sets each up; "headers" is `auth.headers` sent by a plain httpx client."""
    if client == "requests":
        with requests.Session() as session:
            for case in cases:
                session.request(
                    case.method, case.url, json=body_for(case.method), auth=auth, timeout=10
                )
    elif client == "httpx":
        with httpx.Client(auth=auth, event_hooks=auth.httpx_event_hooks()) as c:
            for case in cases:
                c.request(case.method, case.url, json=body_for(case.method))
    elif client == "headers":
        with httpx.Client() as c:
            for case in cases:
                signed = auth.headers(case.method, case.url)
                c.request(case.method, case.url, json=body_for(case.method), headers=signed)
    else:
        asyncio.run(send_all_async(client, auth, cases))


async def send_all_async(client: str, auth: KalshiAuth, cases: list[Case]) -> None:
    if client == "httpx-async":
        async with httpx.AsyncClient(auth=auth, event_hooks=auth.httpx_async_event_hooks()) as c:
            for case in cases:
                await c.request(case.method, case.url, json=body_for(case.method))
        return
    assert client == "aiohttp", client
    async with aiohttp.ClientSession(**session_options(auth)) as session:
        for case in cases:
            async with session.request(case.method, case.url, json=body_for(case.method)) as answer:
                await answer.read()


@dataclass
class Tally:
    """Counts for the report, and every case where a verdict was not as it should be."""

    cases: Counter[str]
    variants: Counter[str]
    agreements: Counter[str]
    judged: Counter[str]
    verdicts: Counter[tuple[str, str]]
    disagreements: list[str]
    unexpected: list[str]

    def report(self) -> str:
        lines = [
            f"differential test, seed {SEED}: {URLS_PER_CLIENT} generated URLs per client",
            f"  {'client':<12} {'requests':>8} {'judged':>7} {'agreements':>10}",
        ]
        lines += [
            f"  {c:<12} {self.cases[c]:>8} {self.judged[c]:>7} {self.agreements[c]:>10}"
            for c in DIFF_CLIENTS
        ]
        lines.append("  variants: " + ", ".join(f"{n} {k}" for n, k in self.variants.items()))
        lines.append(
            "  verdicts (kit = reference): "
            + ", ".join(f"{v} {k}" for (v, _), k in sorted(self.verdicts.items()))
        )
        total, agreed = sum(self.judged.values()), sum(self.agreements.values())
        lines.append(
            f"  agreements: {agreed} of {total}; unexpected verdicts: {len(self.unexpected)}"
        )
        lines += [f"  DISAGREE {d}" for d in self.disagreements[:20]]
        lines += [f"  UNEXPECTED {u}" for u in self.unexpected[:20]]
        return "\n".join(lines)


@pytest.mark.slow  # 2.5 s on an idle machine, 6 s on a busy one
def test_the_kit_agrees_with_kalshis_documented_rule_case_by_case(
    kalshi_rsa_key: rsa.RSAPrivateKey, kalshi_ed25519_key: ed25519.Ed25519PrivateKey
) -> None:
    private: dict[str, PrivateKey] = {RSA_ID: kalshi_rsa_key, ED_ID: kalshi_ed25519_key}
    public: dict[str, AnyPublicKey] = {k: v.public_key() for k, v in private.items()}
    auths = {k: KalshiAuth(k, v, clock=lambda: NOW) for k, v in private.items()}
    tally = Tally(Counter(), Counter(), Counter(), Counter(), Counter(), [], [])
    received: list[RecordedRequest] = []
    kit = KalshiVerifier(clock=lambda: NOW)
    for key_id, key in private.items():
        kit.register(key_id, key)
    rng = random.Random(SEED)
    with KalshiTestServer(verifier=kit, on_request=received.append) as server:
        urls = generated_urls(rng, server.url, URLS_PER_CLIENT)
        cases = [Case(m, u, rng.choice([RSA_ID, ED_ID])) for m, u in urls]
        for client in DIFF_CLIENTS:
            for key_id, auth in auths.items():
                mine = [case for case in cases if case.key_id == key_id]
                start = len(received)
                send_all(client, auth, mine)
                records = received[start:]
                assert [r.method for r in records] == [c.method for c in mine]
                for case, record in zip(mine, records, strict=True):
                    judge(tally, client, case, record, kit, public, private[key_id])
    print("\n" + tally.report())
    assert tally.disagreements == [], tally.report()
    assert tally.unexpected == [], tally.report()
    assert sum(tally.cases.values()) == URLS_PER_CLIENT * len(DIFF_CLIENTS), tally.report()
    assert set(tally.variants) == set(EXPECTED), tally.report()  # every variant was made


def judge(
    tally: Tally,
    client: str,
    case: Case,
    record: RecordedRequest,
    kit: KalshiVerifier,
    public: Mapping[str, AnyPublicKey],
    key: PrivateKey,
) -> None:
    """Judge `record` as sent (the kit's verdict is the one the server gave) and each wrong
    variant of it, by both verifiers; count, and note every disagreement."""
    tally.cases[client] += 1
    judged = {"as sent": (record.headers, record.verdict)}
    for name, headers in wrong_variants(record, case.key_id, key).items():
        judged[name] = (headers, kit.verify(record.method, record.target, headers))
    for name, (headers, verdict) in judged.items():
        ours = kit_verdict(verdict)
        reference = kalshi_docs_verdict(record.method, record.target, headers, public)
        tally.variants[name] += 1
        tally.judged[client] += 1
        where = f"{client} {case.method} {case.url!r} -> {record.target!r}, {name}"
        if ours == reference:
            tally.agreements[client] += 1
            tally.verdicts[(ours, reference)] += 1
        else:
            tally.disagreements.append(f"{where}: kit {ours}, reference {reference}")
        if reference != EXPECTED[name]:
            tally.unexpected.append(f"{where}: {reference}, expected {EXPECTED[name]}")
