"""repr, copy, deepcopy, pickle and fork: the object survives, and signs correctly after."""

from __future__ import annotations

import copy
import json
import os
import pickle
import warnings

import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_auth import KalshiAuth
from kalshi_auth.testing import KalshiTestServer, KalshiVerifier

from .conftest import Credential, assert_no_key_material, signs_verifiably

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


def test_pickled_session_signs_against_the_server(rsa_key: rsa.RSAPrivateKey) -> None:
    with KalshiTestServer({KEY_ID: rsa_key}) as server:
        session = requests.Session()
        session.auth = KalshiAuth(KEY_ID, rsa_key)
        restored = pickle.loads(pickle.dumps(session))
        assert isinstance(restored.auth, KalshiAuth)
        assert restored.get(f"{server.base_url}/portfolio/balance").status_code == 200
        session.close()
        restored.close()


def test_learned_clock_offset_survives_pickle(rsa_key: rsa.RSAPrivateKey) -> None:
    with KalshiTestServer({KEY_ID: rsa_key}) as server:
        server.clock_offset_ms = 45_000
        auth = KalshiAuth(KEY_ID, rsa_key)
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
