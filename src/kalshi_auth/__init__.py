"""Sign requests to Kalshi's trading API from requests, httpx, or any other client.

from kalshi_auth import KalshiAuth

auth = KalshiAuth(key_id, "kalshi-key.pem")
requests.get(url, auth=auth)
httpx.Client(auth=auth)
"""

from ._auth import KalshiAuth
from ._errors import (
    ConfigurationError,
    InvalidKeyIdError,
    InvalidPrivateKeyError,
    KalshiAuthError,
    PrivateKeyPasswordError,
    SignerError,
)
from ._external import Signer
from ._version import __version__

__all__ = [
    "ConfigurationError",
    "InvalidKeyIdError",
    "InvalidPrivateKeyError",
    "KalshiAuth",
    "KalshiAuthError",
    "PrivateKeyPasswordError",
    "Signer",
    "SignerError",
    "__version__",
]
