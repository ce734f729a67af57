"""What mutants of `testing._verifier` showed no test pinned (docs/quality.md): a requests
``PreparedRequest`` without a method is judged as the ``GET`` requests sends; each verdict
carries its body, key id, message and the facts of its reason (the skew, the window, the
timestamp's length); the timestamp is 1 to 20 ASCII digits; the signed path drops origin,
query and fragment; a signature must be strict base64; registration's refusals say why."""

from __future__ import annotations

import base64

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from kalshi_auth import ConfigurationError, InvalidPrivateKeyError, KalshiAuth
from kalshi_auth.testing import (
    INCORRECT_SIGNATURE,
    KEY_NOT_FOUND,
    SIGNATURE_MISSING,
    TIMESTAMP_EXPIRED,
    KalshiVerifier,
)
from kalshi_auth.testing._verifier import public_key_of, signed_path

KEY_ID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
URL = "https://external-api.kalshi.com/trade-api/v2/portfolio/balance?limit=5"


def test_a_prepared_request_without_a_method_is_judged_as_get(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_ed25519_key)
    verifier = KalshiVerifier()
    verifier.register(KEY_ID, kalshi_ed25519_key)
    request = requests.Request(url=URL, headers=auth.headers("GET", URL)).prepare()
    assert request.method is None
    verdict = verifier.verify_request(request)
    assert verdict.accepted, verdict.reason
    assert verdict.message is not None
    assert verdict.message.endswith("GET/trade-api/v2/portfolio/balance")
    signed_for_post = requests.Request(url=URL, headers=auth.headers("POST", URL)).prepare()
    assert not verifier.verify_request(signed_for_post).accepted


# ---------------------------------------------------------------------------------------
# Each verdict, its reason's facts, its body and key id; signatures made here by hand
# (Ed25519 is deterministic), and the server's clock given, so no test depends on time.

NOW = 1_764_000_000_000
PATH = "/trade-api/v2/portfolio/balance"


def signed_by_hand(
    key: ed25519.Ed25519PrivateKey, timestamp: str, message: str, key_id: str = KEY_ID
) -> dict[str, str]:
    return {
        "KALSHI-ACCESS-KEY": key_id,
        "KALSHI-ACCESS-TIMESTAMP": timestamp,
        "KALSHI-ACCESS-SIGNATURE": base64.b64encode(key.sign(message.encode())).decode(),
    }


def verifier_at(
    key: ed25519.Ed25519PrivateKey,
    now: int = NOW,
    *,
    max_past_ms: int = 10_000,
    max_future_ms: int = 30_000,
    clock_offset_ms: int = 0,
) -> KalshiVerifier:
    verifier = KalshiVerifier(
        max_past_ms=max_past_ms,
        max_future_ms=max_future_ms,
        clock_offset_ms=clock_offset_ms,
        clock=lambda: now,
    )
    verifier.register(KEY_ID, key)
    return verifier


def test_an_accepted_request_names_its_message_and_key(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    verifier = verifier_at(kalshi_ed25519_key)
    headers = signed_by_hand(kalshi_ed25519_key, str(NOW), f"{NOW}GET{PATH}")
    verdict = verifier.verify("get", PATH + "?limit=5", headers)
    assert verdict.accepted is True
    assert verdict.status == 200
    assert "verified" in verdict.reason
    assert verdict.body is None
    assert verdict.message == f"{NOW}GET{PATH}"
    assert verdict.key_id == KEY_ID


def test_a_missing_or_empty_signature_is_signature_missing(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    verifier = verifier_at(kalshi_ed25519_key)
    good = signed_by_hand(kalshi_ed25519_key, str(NOW), f"{NOW}GET{PATH}")
    for signature in (None, ""):
        headers = {k: v for k, v in good.items() if k != "KALSHI-ACCESS-SIGNATURE"}
        if signature is not None:
            headers["kalshi-access-signature"] = signature
        verdict = verifier.verify("GET", PATH, headers)
        assert verdict.accepted is False
        assert verdict.status == 401
        assert "KALSHI-ACCESS-SIGNATURE" in verdict.reason
        assert verdict.body == SIGNATURE_MISSING


@pytest.mark.parametrize(
    "timestamp",
    ["", "12a", f" {NOW}", f"+{NOW}", "1764000000000.0", "١٧٦٤٠٠٠٠٠٠٠٠٠", "²", "1" * 21],
)
def test_a_timestamp_that_is_not_up_to_20_ascii_digits_is_expired(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey, timestamp: str
) -> None:
    # the Arabic-Indic digits are NOW, which int() would read; 21 digits are one too many
    verifier = verifier_at(kalshi_ed25519_key)
    headers = signed_by_hand(kalshi_ed25519_key, timestamp, f"{timestamp}GET{PATH}")
    verdict = verifier.verify("GET", PATH, headers)
    assert verdict.accepted is False
    assert verdict.body == TIMESTAMP_EXPIRED
    assert "KALSHI-ACCESS-TIMESTAMP" in verdict.reason
    assert f"({len(timestamp)} characters)" in verdict.reason


def test_a_missing_timestamp_is_zero_characters(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    verifier = verifier_at(kalshi_ed25519_key)
    headers = signed_by_hand(kalshi_ed25519_key, str(NOW), f"{NOW}GET{PATH}")
    del headers["KALSHI-ACCESS-TIMESTAMP"]
    verdict = verifier.verify("GET", PATH, headers)
    assert verdict.accepted is False
    assert verdict.body == TIMESTAMP_EXPIRED
    assert "(0 characters)" in verdict.reason


@pytest.mark.parametrize("timestamp", ["5", str(10**19)])  # 1 digit and 20 digits
def test_one_to_20_digits_are_read_as_milliseconds(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey, timestamp: str
) -> None:
    verifier = verifier_at(kalshi_ed25519_key, now=int(timestamp))
    headers = signed_by_hand(kalshi_ed25519_key, timestamp, f"{timestamp}GET{PATH}")
    verdict = verifier.verify("GET", PATH, headers)
    assert verdict.accepted is True, verdict.reason
    assert verdict.message == f"{timestamp}GET{PATH}"


@pytest.mark.parametrize(
    ("skew", "said"), [(-60_000, "-60.0 s"), (-10_001, "-10.0 s"), (45_500, "+45.5 s")]
)
def test_a_timestamp_outside_the_window_states_the_skew_and_the_window(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey, skew: int, said: str
) -> None:
    verifier = verifier_at(kalshi_ed25519_key)
    timestamp = str(NOW + skew)
    headers = signed_by_hand(kalshi_ed25519_key, timestamp, f"{timestamp}GET{PATH}")
    verdict = verifier.verify("GET", PATH, headers)
    assert verdict.accepted is False
    assert verdict.body == TIMESTAMP_EXPIRED
    assert f"timestamp is {said} from" in verdict.reason
    assert "-10 s to +30 s" in verdict.reason


def test_the_window_reason_follows_the_verifiers_rules(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    verifier = verifier_at(kalshi_ed25519_key, max_past_ms=2_500, max_future_ms=1_500)
    for skew, accepted in ((-2_500, True), (-2_501, False), (1_500, True), (1_501, False)):
        timestamp = str(NOW + skew)
        headers = signed_by_hand(kalshi_ed25519_key, timestamp, f"{timestamp}GET{PATH}")
        verdict = verifier.verify("GET", PATH, headers)
        assert verdict.accepted is accepted, skew
        if not accepted:
            assert "-2.5 s to +1.5 s" in verdict.reason


def test_the_clock_offset_shifts_the_servers_clock_forward(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    verifier = verifier_at(kalshi_ed25519_key, clock_offset_ms=5_000)
    assert verifier.now_ms() == NOW + 5_000
    for sent, accepted in ((NOW + 35_000, True), (NOW - 5_000, True), (NOW - 6_000, False)):
        headers = signed_by_hand(kalshi_ed25519_key, str(sent), f"{sent}GET{PATH}")
        assert verifier.verify("GET", PATH, headers).accepted is accepted, sent - NOW


def test_an_unknown_or_missing_key_id_is_not_found(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    verifier = verifier_at(kalshi_ed25519_key)
    good = signed_by_hand(kalshi_ed25519_key, str(NOW), f"{NOW}GET{PATH}")
    long_id = "k" * 60 + "LONG-ID-TAIL"
    for key_id in ("key-2", long_id, None):
        headers = {k: v for k, v in good.items() if k != "KALSHI-ACCESS-KEY"}
        if key_id is not None:
            headers["KALSHI-ACCESS-KEY"] = key_id
        verdict = verifier.verify("GET", PATH, headers)
        assert verdict.accepted is False
        assert verdict.body == KEY_NOT_FOUND
        assert verdict.key_id == (key_id or "")
        assert f"unknown key id {(key_id or '')[:64]!r}" in verdict.reason
    # the reason quotes at most 64 characters of the id
    headers = {**good, "KALSHI-ACCESS-KEY": long_id}
    assert "TAIL" not in verifier.verify("GET", PATH, headers).reason


def test_a_signature_that_does_not_verify_quotes_the_message(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    verifier = verifier_at(kalshi_ed25519_key)
    headers = signed_by_hand(kalshi_ed25519_key, str(NOW), f"{NOW}GET{PATH}")
    verdict = verifier.verify("POST", PATH, headers)
    assert verdict.accepted is False
    assert verdict.body == INCORRECT_SIGNATURE
    assert verdict.message == f"{NOW}POST{PATH}"
    assert repr(f"{NOW}POST{PATH}") in verdict.reason
    assert verdict.key_id == KEY_ID


def test_a_signature_with_characters_outside_base64_is_rejected(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    verifier = verifier_at(kalshi_ed25519_key)
    good = signed_by_hand(kalshi_ed25519_key, str(NOW), f"{NOW}GET{PATH}")
    signature = good["KALSHI-ACCESS-SIGNATURE"]
    assert verifier.verify("GET", PATH, good).accepted
    # a lenient decoder would drop the stray characters and accept
    for broken in (signature[:10] + "*" + signature[10:], "!" + signature, signature[:-2]):
        verdict = verifier.verify("GET", PATH, {**good, "KALSHI-ACCESS-SIGNATURE": broken})
        assert verdict.accepted is False, broken
        assert verdict.body == INCORRECT_SIGNATURE


@pytest.mark.parametrize(
    "target",
    [
        f"https://external-api.kalshi.com{PATH}?limit=5#top",  # absolute form, via a proxy
        f"http://127.0.0.1:8080{PATH}",
        f"{PATH}#top",
        f"{PATH}#a?b",
        f"{PATH}?a=b#c",
    ],
)
def test_the_signed_path_drops_origin_query_and_fragment(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey, target: str
) -> None:
    verifier = verifier_at(kalshi_ed25519_key)
    headers = signed_by_hand(kalshi_ed25519_key, str(NOW), f"{NOW}GET{PATH}")
    verdict = verifier.verify("GET", target, headers)
    assert verdict.accepted is True, verdict.reason
    assert signed_path(target) == PATH


def test_signed_path_edge_cases() -> None:
    assert signed_path("https://external-api.kalshi.com") == "/"
    assert signed_path("https://external-api.kalshi.com?limit=5") == "/"
    assert signed_path("?limit=5") == "/"
    assert signed_path("/a#b#c") == "/a"  # the first "#" starts the fragment
    assert signed_path("/a#b?c#d") == "/a"
    assert signed_path("/a?b#c?d") == "/a"
    assert signed_path("/a") == "/a"
    # origin form is taken as it is: "//" is a path here, not an authority
    assert signed_path("//external-api.kalshi.com/x") == "//external-api.kalshi.com/x"


@pytest.mark.parametrize("target", [PATH + "/\ud800", "http://[broken/" + PATH])
def test_an_unreadable_target_is_an_incorrect_signature(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey, target: str
) -> None:
    verifier = verifier_at(kalshi_ed25519_key)
    headers = signed_by_hand(kalshi_ed25519_key, str(NOW), f"{NOW}GET{PATH}")
    verdict = verifier.verify("GET", target, headers)
    assert verdict.accepted is False
    assert verdict.body == INCORRECT_SIGNATURE
    assert "request-target" in verdict.reason


# ---------------------------------------------------------------------------------------
# Registration: the refusals' facts.


def test_a_refused_key_id_says_whether_it_was_empty(
    kalshi_ed25519_key: ed25519.Ed25519PrivateKey,
) -> None:
    with pytest.raises(ConfigurationError) as empty:
        KalshiVerifier().register("", kalshi_ed25519_key)
    assert "not str (empty):" in str(empty.value)
    with pytest.raises(ConfigurationError) as number:
        KalshiVerifier().register(42, kalshi_ed25519_key)  # type: ignore[arg-type]
    assert "not int:" in str(number.value)
    assert "empty" not in str(number.value).replace("non-empty", "")


def test_key_text_that_utf_8_cannot_encode_is_refused_as_no_key() -> None:
    with pytest.raises(InvalidPrivateKeyError) as caught:
        KalshiVerifier().register(KEY_ID, "-----BEGIN PUBLIC KEY-----\ud800")
    message = str(caught.value)
    assert "no unencrypted RSA or Ed25519 key" in message
    assert "such as -----BEGIN PUBLIC KEY----- or -----BEGIN PRIVATE KEY-----" in message


def test_a_key_of_another_type_is_refused_by_name() -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    private = ec_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for pem in (private, public):
        with pytest.raises(InvalidPrivateKeyError) as caught:
            public_key_of(pem)
        assert str(caught.value).startswith("the key is neither RSA nor Ed25519")
