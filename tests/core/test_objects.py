"""repr, copy, deepcopy, pickle and fork: the object survives, and signs correctly after."""

from __future__ import annotations

import copy
import json
import os
import pickle
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_auth import InvalidPrivateKeyError, KalshiAuth, KalshiAuthError
from kalshi_auth.testing import KalshiTestServer, KalshiVerifier
from tests.helpers.keys import Credential, assert_no_key_material, signs_verifiably

KEY_ID = "c0ffee00-1234-4abc-8def-0123456789ab"


def test_repr_and_str(credential: Credential) -> None:
    for text in (repr(credential.auth), str(credential.auth)):
        assert credential.key_id in text
        assert credential.auth.key_type in text
        assert_no_key_material(text, credential.pem)


def test_copy_deepcopy_pickle(credential: Credential) -> None:
    original = KalshiAuth(
        credential.key_id, credential.private_key, hosts=["example.org"], include_query=True
    )
    for clone in (
        copy.copy(original),
        copy.deepcopy(original),
        pickle.loads(pickle.dumps(original)),
    ):
        assert clone is not original
        assert repr(clone) == repr(original)
        # No query string here, so include_query changes nothing.
        assert signs_verifiably(clone, credential.private_key)
        prepared = requests.Request("GET", "https://example.org/x", auth=clone).prepare()
        assert prepared.headers["KALSHI-ACCESS-KEY"] == credential.key_id  # scope kept
    plain = pickle.loads(pickle.dumps(KalshiAuth(credential.key_id, credential.private_key)))
    assert signs_verifiably(plain, credential.private_key)


def test_pickled_session_signs_against_the_server(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    with KalshiTestServer({KEY_ID: kalshi_rsa_key}) as server:
        session = requests.Session()
        session.auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
        restored = pickle.loads(pickle.dumps(session))
        assert isinstance(restored.auth, KalshiAuth)
        assert restored.get(f"{server.base_url}/portfolio/balance").status_code == 200
        session.close()
        restored.close()


def test_learned_clock_offset_survives_pickle(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    with KalshiTestServer({KEY_ID: kalshi_rsa_key}) as server:
        server.clock_offset_ms = 45_000
        auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
        assert requests.get(f"{server.base_url}/x", auth=auth, timeout=10).status_code == 200
        restored = pickle.loads(pickle.dumps(auth))
        assert restored.clock_offset_ms == auth.clock_offset_ms != 0
        assert requests.get(f"{server.base_url}/x", auth=restored, timeout=10).status_code == 200
    assert len(server.requests) == 3  # the restored copy needed no re-send


def test_child_process_signs_after_fork(credential: Credential) -> None:
    auth = credential.auth
    auth.headers("GET", "/warm-up")  # used in the parent before the fork
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads, 3.12+
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            headers = auth.headers("GET", "/trade-api/v2/portfolio/balance")
            os.write(write_end, json.dumps(headers).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    headers = json.loads(data)
    verifier = KalshiVerifier()
    verifier.register(auth.key_id, credential.private_key)
    assert verifier.verify("GET", "/trade-api/v2/portfolio/balance", headers).accepted


# --- a pickle is input: every field is checked again ----------------------------------------


def _state(auth: KalshiAuth) -> dict[str, Any]:
    return auth.__getstate__()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda s: s.update(offset_ms=10 * 86_400_000), id="offset-10-days"),
        pytest.param(lambda s: s.update(offset_ms=1e300), id="offset-float"),
        pytest.param(lambda s: s.update(offset_ms=True), id="offset-bool"),
        pytest.param(lambda s: s.update(offset_ms="5"), id="offset-str"),
        pytest.param(lambda s: s["options"].update(evil=1), id="unknown-option"),
        pytest.param(lambda s: s.update(key=("k",)), id="short-key-pair"),
        pytest.param(lambda s: s.pop("options"), id="missing-options"),
        pytest.param(lambda s: s["options"].update(hosts=["bad host!"]), id="bad-hosts"),
        pytest.param(lambda s: s["options"].update(signer_timeout=-1), id="bad-timeout"),
        pytest.param(lambda s: s.update(key=("bad id\n", s["key"][1])), id="bad-key-id"),
    ],
)
def test_a_damaged_pickle_is_a_typed_error(
    kalshi_rsa_key: rsa.RSAPrivateKey, damage: Callable[[dict[str, Any]], object]
) -> None:
    state = _state(KalshiAuth(KEY_ID, kalshi_rsa_key))
    damage(state)
    blank = KalshiAuth.__new__(KalshiAuth)
    with pytest.raises(KalshiAuthError):
        blank.__setstate__(state)


def test_garbage_key_bytes_in_a_pickle_are_a_key_error(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    state = _state(KalshiAuth(KEY_ID, kalshi_rsa_key))
    der = state["key"][1]
    state["key"] = (KEY_ID, der[:100] + b"\xff" * 50)
    blank = KalshiAuth.__new__(KalshiAuth)
    with pytest.raises(InvalidPrivateKeyError) as caught:
        blank.__setstate__(state)
    assert caught.value.__context__ is None
    assert caught.value.__cause__ is None


def test_a_pickled_offset_within_a_day_is_kept(kalshi_rsa_key: rsa.RSAPrivateKey) -> None:
    auth = KalshiAuth(KEY_ID, kalshi_rsa_key)
    state = _state(auth)
    state["offset_ms"] = -86_400_000
    restored = KalshiAuth.__new__(KalshiAuth)
    restored.__setstate__(state)
    assert restored.clock_offset_ms == -86_400_000
    stamp = int(restored.headers("GET", "/x")["KALSHI-ACCESS-TIMESTAMP"])
    assert stamp < int(auth.headers("GET", "/x")["KALSHI-ACCESS-TIMESTAMP"]) - 86_000_000
