"""The key id's and the timestamp's refusals, held to their exact words: what kind of
character a key id holds and where, and which way a timestamp is out of range. Each test
is one a mutant of `kalshi_auth._core` or `kalshi_auth._signing` changed the answer of
(docs/quality.md)."""

from __future__ import annotations

from email.utils import formatdate

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_auth import ConfigurationError, InvalidKeyIdError, KalshiAuth, SignerError
from kalshi_auth._clock import MAX_OFFSET_MS, ServerClock, describe_offset
from kalshi_auth._core import checked_key_id
from kalshi_auth._signing import timestamp_text
from tests.core.test_signing_threads import RecordingSigner

UUID = "a952bcbe-ec3b-4b5b-b8f9-11dae589608c"
ADVICE = (
    "; a key id is a UUID such as 'a952bcbe-ec3b-4b5b-b8f9-11dae589608c': remove whitespace, "
    "quotes and control characters (a trailing newline or quotes from a file or .env are the "
    "usual cause)"
)


@pytest.mark.parametrize(
    ("key_id", "kind"),
    [
        (UUID + "\n", "a line break (a control character) at its start or end"),
        ("\r" + UUID, "a line break (a control character) at its start or end"),
        (" " + UUID, "whitespace at its start or end"),
        (UUID[:8] + "\t" + UUID[8:], "whitespace inside it"),
        ('"' + UUID + '"', "a quote at its start or end"),
        ("`" + UUID, "a quote at its start or end"),
        (UUID[:8] + "\x01" + UUID[8:], "a control character inside it"),
        (UUID[:8] + "\u200b" + UUID[8:], "an invisible character inside it"),
        (UUID[:8] + "!" + UUID[8:], "a character outside letters, digits and '-._~' inside it"),
    ],
    ids=["LF", "CR", "space", "tab", "double quotes", "backtick", "SOH", "ZWSP", "bang"],
)
def test_a_key_ids_bad_character_is_named_by_its_kind_and_place(key_id: str, kind: str) -> None:
    with pytest.raises(InvalidKeyIdError) as caught:
        checked_key_id(key_id)
    assert str(caught.value) == f"key_id ({len(key_id)} characters) has {kind}{ADVICE}"


@pytest.mark.parametrize(
    ("timestamp_ms", "size"),
    [(1_700_000_000, "too small"), (10**12 - 1, "too small"), (10**13, "too large")],
)
def test_a_timestamp_out_of_range_says_which_way(timestamp_ms: int, size: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        timestamp_text(timestamp_ms)
    assert str(caught.value) == (
        f"timestamp_ms is {size} to be milliseconds since the epoch (13 digits): "
        "use int(time.time() * 1000), not time.time()"
    )


def test_the_smallest_and_largest_millisecond_timestamps_are_taken() -> None:
    assert timestamp_text(10**12) == "1000000000000"
    assert timestamp_text(10**13 - 1) == "9999999999999"


@pytest.mark.parametrize("offset", [1.5, True, "5", MAX_OFFSET_MS + 1, -MAX_OFFSET_MS - 1])
def test_a_pickled_clock_offset_out_of_bounds_is_refused_in_words(offset: object) -> None:
    clock = ServerClock(lambda: 1_700_000_000_000)
    with pytest.raises(ConfigurationError) as caught:
        clock.restore(offset)
    assert str(caught.value) == (
        "the clock offset of this pickled KalshiAuth is not whole milliseconds within "
        "a day (24 h), which kalshi-auth never learns; create the KalshiAuth again"
    )
    assert clock.offset_ms == 0


def test_a_pickled_clock_offset_of_a_day_either_way_is_taken() -> None:
    clock = ServerClock(lambda: 1_700_000_000_000)
    clock.restore(-MAX_OFFSET_MS)
    assert clock.now_ms() == 1_700_000_000_000 - MAX_OFFSET_MS
    clock.restore(MAX_OFFSET_MS)
    assert clock.now_ms() == 1_700_000_000_000 + MAX_OFFSET_MS


def test_a_hung_signer_is_named_and_the_fix_given(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    signer = RecordingSigner(kalshi_rsa_key)
    signer.hang = True
    auth = KalshiAuth(UUID, signer, signer_timeout=0.05)
    try:
        with pytest.raises(SignerError) as caught:
            auth.headers("GET", "https://external-api.kalshi.com/trade-api/v2/portfolio/balance")
    finally:
        signer.release.set()
    assert str(caught.value) == (
        "the external signer tests.core.test_signing_threads.RecordingSigner did not return "
        "within 0.05 s (signer_timeout); "
        "the request was not sent. kalshi-auth never retries a signer: check the signer's "
        "service, or raise KalshiAuth(signer_timeout=...)"
    )


NOW_MS = 1_700_000_000_000


def learned(caplog: pytest.LogCaptureFixture, offset_ms: int | None) -> tuple[bool, list[str]]:
    """What a clock at NOW_MS learns from a Date header `offset_ms` away (None: no Date),
    and what it logs."""
    clock = ServerClock(lambda: NOW_MS)
    date = None if offset_ms is None else formatdate((NOW_MS + offset_ms) / 1000, usegmt=True)
    caplog.clear()
    answer = clock.learn(date)
    return answer, [r.getMessage() for r in caplog.records if r.name.startswith("kalshi_auth")]


def test_what_the_clock_learns_from_a_rejection_is_logged_in_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert learned(caplog, None) == (
        False,
        [
            "Kalshi rejected the timestamp, and its Date header is missing or unreadable: "
            "nothing learned, not re-sending. Sync this machine's clock."
        ],
    )
    assert learned(caplog, 2 * MAX_OFFSET_MS) == (
        False,
        [
            "Kalshi rejected the timestamp, and its Date header is 48 hours off this machine's "
            "clock, further than kalshi-auth ever adopts (24 h): not re-sending. Check the "
            "machine's clock and that the request reached Kalshi."
        ],
    )
    assert learned(caplog, 0) == (
        True,
        [
            "Kalshi rejected the timestamp although the clocks agree: the request was delayed "
            "after it was signed (a slow connection or a long queue). Re-sending once with a "
            "fresh signature."
        ],
    )
    assert learned(caplog, 3_600_000) == (
        True,
        [
            f"Kalshi rejected the timestamp: {describe_offset(3_600_000)}. Signing with "
            "Kalshi's time from now on and re-sending once; sync the clock."
        ],
    )
