"""What loading a key will cost, read from its structure before anything is decrypted.

Decryption parameters are input too: the bcrypt rounds of an OpenSSH key, the PBKDF2
iterations or scrypt N, r and p of an encrypted PKCS#8 key. cryptography runs the KDF with
whatever the key says, holding the GIL: one 444-byte key could stop every thread of the
process for years, or ask for gigabytes of memory. The size of an RSA, DSA or DH modulus
is input as well, and checking one grows with its cube. These functions read those
numbers with a small DER and OpenSSH reader and refuse a key past the caps before
cryptography sees it. The reader never recurses (callers step down the few levels of a key
structure by hand) and reads each byte at most a few times, so its work is linear in the
input, whatever the input holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import InvalidPrivateKeyError

__all__ = [
    "MAX_BCRYPT_ROUNDS",
    "MAX_ENCRYPTED_KEY_BYTES",
    "MAX_ITERATIONS",
    "MAX_MODULUS_BITS",
    "MAX_SCRYPT_MEMORY",
    "MAX_SCRYPT_N",
    "MAX_SCRYPT_P",
    "MAX_SCRYPT_R",
    "cap_fix",
    "check_der",
    "check_openssh",
    "is_encrypted_der",
    "modulus_refusal",
]

# Each cap admits what real tools write, and keeps the most expensive key it admits under
# a second (times measured on a 2-core x86-64 VM, cryptography 50, OpenSSL 3).
# ssh-keygen writes 16 rounds, cryptography's BestAvailableEncryption too; -a 100 is the
# usual advice for a stronger key, and costs 0.7 s (aes256-ctr: two bcrypt_pbkdf blocks).
MAX_BCRYPT_ROUNDS = 100
# PBKDF2 and the legacy PKCS#5 / PKCS#12 PBE schemes: cryptography and openssl write 2048;
# OWASP advises 600,000 for PBKDF2-HMAC-SHA256. A million costs 0.5 s at worst (SHA-512).
MAX_ITERATIONS = 1_000_000
# scrypt uses 128*N*r*p bytes and as many steps: openssl pkcs8 -scrypt writes N = 2^14,
# r = 8, p = 1 (16 MiB, 0.04 s); 64 MiB takes 0.16 s. The memory cap binds first; N, r
# and p are capped on their own too, so that the message names the number that is wrong.
MAX_SCRYPT_N = 2**18
MAX_SCRYPT_R = 32
MAX_SCRYPT_P = 16
MAX_SCRYPT_MEMORY = 64 * 1024 * 1024
# cryptography checks an RSA key when it loads it: 3.2 s for an 8192-bit one, 34 s for
# 16384 bits. A DSA or DH key's load computes g^x mod p: minutes for a p near 64 KB.
MAX_MODULUS_BITS = 8192
# What an encrypted key holds is seen only once cryptography has decrypted and loaded it,
# in one call: a DSA or DH key inside could cost that g^x mod p. Its size bounds the cost:
# an RSA-8192 key encrypted as PKCS#8 takes 4,793 bytes, and a DSA key of 5 KiB in all
# (a p of about 13,000 bits) loads in about half a second.
MAX_ENCRYPTED_KEY_BYTES = 5 * 1024

REENCRYPT_OPENSSH = (
    "re-encrypt it with ssh-keygen's default of 16 rounds (ssh-keygen -p -a 16 -f KEY_FILE), "
    "or remove its passphrase"
)
REENCRYPT_PKCS8 = (
    "re-encrypt it with default settings (cryptography's BestAvailableEncryption, or openssl "
    "pkcs8 -topk8 -v2 aes-256-cbc: PBKDF2 with 2048 iterations), or decrypt it"
)
NEW_KEY = (
    "Kalshi accepts RSA keys of 2048 to 8192 bits and Ed25519 keys: create a new API key "
    "in Kalshi's web UI"
)
_READS = "kalshi-auth reads PBES2 with PBKDF2 or scrypt, and the PKCS#5 and PKCS#12 PBE schemes"

_INTEGER, _OCTETS, _OID, _SEQUENCE = 0x02, 0x04, 0x06, 0x30
_CONSTRUCTED = 0x20
_OPENSSH_MAGIC = b"openssh-key-v1\0"


def _oid(dotted: str) -> bytes:
    """The DER content octets of an object identifier."""
    first, second, *rest = (int(arc) for arc in dotted.split("."))
    out = bytearray([40 * first + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        high = arc >> 7
        while high:
            chunk.append(0x80 | (high & 0x7F))
            high >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


_PBES2 = _oid("1.2.840.113549.1.5.13")
_PBKDF2 = _oid("1.2.840.113549.1.5.12")
_SCRYPT = _oid("1.3.6.1.4.1.11591.4.11")
# The PBES2 ciphers cryptography opens: AES-128/192/256-CBC and DES-EDE3-CBC.
_PBES2_CIPHERS = (
    *(_oid(f"2.16.840.1.101.3.4.1.{n}") for n in (2, 22, 42)),
    _oid("1.2.840.113549.3.7"),
)
_PBE_SCHEMES = {_oid(f"1.2.840.113549.1.5.{n}"): "PKCS#5 PBE" for n in (1, 3, 4, 6, 10, 11)}
_PBE_SCHEMES |= {_oid(f"1.2.840.113549.1.12.1.{n}"): "PKCS#12 PBE" for n in range(1, 7)}
_RSA_KEYS = (_oid("1.2.840.113549.1.1.1"), _oid("1.2.840.113549.1.1.10"))  # RSA, RSA-PSS
# Keys whose parameters hold a modulus, first: loading one computes g^x mod p.
_MODULUS_KEYS = {
    _oid("1.2.840.10040.4.1"): "DSA",
    _oid("1.2.840.113549.1.3.1"): "DH",
    _oid("1.2.840.10046.2.1"): "DH",
}


@dataclass(frozen=True)
class _Element:
    """One DER element of `data`: its tag, and where its content starts and ends."""

    data: bytes
    tag: int
    start: int
    end: int

    @classmethod
    def at(cls, data: bytes, pos: int, limit: int) -> _Element | None:
        """The element whose header is at `pos`, if it ends by `limit`; None if malformed.

        Lengths may be long-form even where short would do (BER), but not indefinite:
        no DER key has one, and cryptography refuses them.
        """
        if pos + 2 > limit or data[pos] & 0x1F == 0x1F:  # multi-byte tags: no key uses one
            return None
        tag, first = data[pos], data[pos + 1]
        pos += 2
        size = first
        if first & 0x80:
            count = first & 0x7F
            if not 1 <= count <= 4 or pos + count > limit:
                return None
            size = int.from_bytes(data[pos : pos + count], "big")
            pos += count
        if size > limit - pos:
            return None
        return cls(data, tag, pos, pos + size)

    def children(self, most: int) -> list[_Element] | None:
        """The first `most` elements inside this one; None if it is not constructed or
        one of them is malformed."""
        if not self.tag & _CONSTRUCTED:
            return None
        found: list[_Element] = []
        pos = self.start
        while pos < self.end and len(found) < most:
            child = _Element.at(self.data, pos, self.end)
            if child is None:
                return None
            found.append(child)
            pos = child.end
        return found

    def integer(self) -> int | None:
        if self.tag != _INTEGER or self.start == self.end:
            return None
        return int.from_bytes(self.data[self.start : self.end], "big", signed=True)

    def is_oid(self, *encoded: bytes) -> bool:
        return self.tag == _OID and self.data[self.start : self.end] in encoded

    def oid(self) -> bytes | None:
        return self.data[self.start : self.end] if self.tag == _OID else None

    def inner(self) -> _Element | None:
        """The element an OCTET STRING holds (PKCS#8 wraps the key this way)."""
        return _Element.at(self.data, self.start, self.end) if self.tag == _OCTETS else None


def check_der(der: bytes, *, where: str, decrypting: bool) -> bool:
    """Refuse a DER key whose loading would cost more than the caps allow.

    Raises `InvalidPrivateKeyError` for a modulus over `MAX_MODULUS_BITS` in a PKCS#1,
    PKCS#8 or OpenSSL DSA key, and, when `decrypting`, for the KDF parameters of an
    EncryptedPrivateKeyInfo past their caps or of a scheme whose cost is unknown. Returns
    False if `der` is not a structure this reader can follow (the caller calls it damaged,
    in its own words), True if cryptography may load it.
    """
    fields = _top_fields(der)
    if not fields or len(fields) < 2:
        return False
    if fields[0].tag == _INTEGER:
        _check_plain_key(fields, where)
        return True
    if _is_encrypted_info(fields):
        if decrypting and len(der) > MAX_ENCRYPTED_KEY_BYTES:
            raise InvalidPrivateKeyError(_too_large_encrypted(len(der), where))
        return not decrypting or _check_encryption(fields[0], where)
    return False  # a public key, a certificate, or something else


def is_encrypted_der(der: bytes) -> bool:
    """Whether `der` is shaped as an EncryptedPrivateKeyInfo."""
    fields = _top_fields(der)
    return fields is not None and _is_encrypted_info(fields)


def _top_fields(der: bytes) -> list[_Element] | None:
    """The first elements (up to 9) of the SEQUENCE `der` is; None if it is not one."""
    root = _Element.at(der, 0, len(der))
    return root.children(9) if root is not None and root.tag == _SEQUENCE else None


def _is_encrypted_info(fields: list[_Element]) -> bool:
    """EncryptedPrivateKeyInfo: exactly the encryption's AlgorithmIdentifier (a SEQUENCE)
    and the encrypted key (an OCTET STRING); a public key's second is a BIT STRING."""
    return len(fields) == 2 and fields[0].tag == _SEQUENCE and fields[1].tag == _OCTETS


def _check_plain_key(fields: list[_Element], where: str) -> None:
    """The modulus of a PKCS#1 RSA key, an OpenSSL DSA key or a PKCS#8 key, checked."""
    second = fields[1]
    if second.tag == _INTEGER:  # PKCS#1 (version, n, e, ...) or OpenSSL DSA (0, p, q, ...)
        _check_modulus(second, "DSA" if len(fields) == 6 else "RSA", where)
        return
    parts = second.children(2) if len(fields) > 2 else None  # PKCS#8: version, algorithm, key
    if not parts:
        return
    if parts[0].is_oid(*_RSA_KEYS):
        rsa_key = fields[2].inner()
        numbers = rsa_key.children(2) if rsa_key is not None else None
        if numbers and len(numbers) == 2:
            _check_modulus(numbers[1], "RSA", where)
        return
    kind = _MODULUS_KEYS.get(parts[0].oid() or b"")
    params = parts[1].children(1) if kind is not None and len(parts) == 2 else None
    if kind is not None and params:
        _check_modulus(params[0], kind, where)


def _check_modulus(element: _Element, kind: str, where: str) -> None:
    value = element.integer()
    if value is not None and abs(value).bit_length() > MAX_MODULUS_BITS:
        raise InvalidPrivateKeyError(modulus_refusal(where, kind, abs(value).bit_length()))


def modulus_refusal(where: str, kind: str, bits: int) -> str:
    """The message refusing a `kind` key ("RSA", "DSA", "DH") with a `bits`-bit modulus."""
    name = f"RSA-{bits}" if kind == "RSA" else f"a {kind} key with a {bits}-bit modulus"
    return (
        f"{where} is {name}, over the {MAX_MODULUS_BITS} bits kalshi-auth reads (checking a "
        f"larger key takes from seconds to minutes); {NEW_KEY}"
    )


def _check_encryption(algorithm: _Element, where: str) -> bool:
    """The KDF parameters of an EncryptedPrivateKeyInfo's AlgorithmIdentifier, checked."""
    parts = algorithm.children(2)
    if not parts or len(parts) < 2 or parts[0].oid() is None:
        return False
    scheme, params = parts[0].oid() or b"", parts[1]
    if scheme == _PBES2:
        return _check_pbes2(params, where)
    name = _PBE_SCHEMES.get(scheme)
    if name is None:
        raise InvalidPrivateKeyError(_unknown(where, "an encryption scheme"))
    fields = params.children(2)  # salt, iterationCount
    if not fields or len(fields) < 2:
        return False
    return _check_count(f"{name} iterations", fields[1], MAX_ITERATIONS, REENCRYPT_PKCS8, where)


def _check_pbes2(params: _Element, where: str) -> bool:
    """PBES2-params: keyDerivationFunc (PBKDF2 or scrypt), then encryptionScheme."""
    parts = params.children(2)
    kdf = parts[0].children(2) if parts else None
    if not kdf or kdf[0].oid() is None:
        return False
    if not kdf[0].is_oid(_PBKDF2, _SCRYPT):
        raise InvalidPrivateKeyError(_unknown(where, "a key derivation function"))
    fields = kdf[1].children(4) if len(kdf) == 2 else None
    if not fields or len(fields) < 2:
        return False
    if kdf[0].is_oid(_PBKDF2):  # salt, iterationCount, keyLength?, prf?
        bounded = _check_count(
            "PBKDF2 iterations", fields[1], MAX_ITERATIONS, REENCRYPT_PKCS8, where
        )
    elif len(fields) < 4:  # salt, costParameter N, blockSize r, parallelizationParameter p
        return False
    else:
        bounded = _check_scrypt(
            fields[1].integer(), fields[2].integer(), fields[3].integer(), where
        )
    cipher = parts[1].children(1) if parts and len(parts) == 2 else None
    if bounded and not (cipher and cipher[0].is_oid(*_PBES2_CIPHERS)):
        # cryptography would refuse it after the password: refused here in words of its own
        raise InvalidPrivateKeyError(
            f"{where} is encrypted with a cipher cryptography cannot open (it opens "
            f"AES-CBC and DES-EDE3-CBC); {REENCRYPT_PKCS8}"
        )
    return bounded


def _check_count(name: str, element: _Element, cap: int, fix: str, where: str) -> bool:
    value = element.integer()
    if value is None:
        return False
    if value < 1:
        raise InvalidPrivateKeyError(_damaged(where, name, value, "1 or more"))
    if value > cap:
        raise InvalidPrivateKeyError(_over_cap(where, name, _shown(value), f"{cap}", fix))
    return True


def _check_scrypt(n: int | None, r: int | None, p: int | None, where: str) -> bool:
    if n is None or r is None or p is None:
        return False
    if n < 2 or n & (n - 1):
        raise InvalidPrivateKeyError(_damaged(where, "scrypt N", n, "a power of two, 2 or more"))
    for name, value, cap in (
        ("scrypt N", n, MAX_SCRYPT_N),
        ("scrypt r", r, MAX_SCRYPT_R),
        ("scrypt p", p, MAX_SCRYPT_P),
    ):
        if value < 1:
            raise InvalidPrivateKeyError(_damaged(where, name, value, "1 or more"))
        if value > cap:
            raise InvalidPrivateKeyError(
                _over_cap(where, name, _shown(value), f"{cap}", REENCRYPT_PKCS8)
            )
    if 16 * r < 64 and n >= 1 << (16 * r):  # RFC 7914: N < 2^(128 r / 8); OpenSSL enforces it
        raise InvalidPrivateKeyError(
            _damaged(where, "scrypt N", n, f"below 2^(16*r) = {1 << (16 * r)}, as r = {r}")
        )
    memory = 128 * n * r * p
    if memory > MAX_SCRYPT_MEMORY:
        raise InvalidPrivateKeyError(
            _over_cap(
                where,
                "scrypt memory 128*N*r*p",
                f"{memory} bytes ({memory >> 20} MiB)",
                f"{MAX_SCRYPT_MEMORY} bytes ({MAX_SCRYPT_MEMORY >> 20} MiB)",
                REENCRYPT_PKCS8,
            )
        )
    return True


def check_openssh(blob: bytes, *, where: str) -> bool:
    """Refuse an OpenSSH private key (its decoded body) whose bcrypt rounds or RSA modulus
    are past the caps.

    The layout is OpenSSH's PROTOCOL.key: the magic, then ciphername, kdfname and
    kdfoptions (salt, rounds) as length-prefixed strings, the number of keys, and each
    public key in the clear; cryptography refuses a private key whose RSA numbers differ
    from that public key's. Returns False if the header does not parse (cryptography
    would refuse it too, before any KDF), True if cryptography may load it.
    """
    head = _ssh_strings(blob, len(_OPENSSH_MAGIC), 3) if blob.startswith(_OPENSSH_MAGIC) else None
    if head is None:
        return False
    (_, kdf_name, options), at = head
    if kdf_name == b"bcrypt":
        salt = _ssh_strings(options, 0, 1)
        if salt is None or len(options) != salt[1] + 4:
            return False
        rounds = int.from_bytes(options[salt[1] :], "big")
        if rounds > MAX_BCRYPT_ROUNDS:
            raise InvalidPrivateKeyError(
                _over_cap(
                    where, "bcrypt rounds", f"{rounds}", f"{MAX_BCRYPT_ROUNDS}", REENCRYPT_OPENSSH
                )
            )
    public = _ssh_strings(blob, at + 4, 1)  # after the number of keys: the first public key
    fields = _ssh_strings(public[0][0], 0, 3) if public is not None else None
    if fields is not None and fields[0][0] == b"ssh-rsa":  # key type, e, n
        bits = int.from_bytes(fields[0][2], "big").bit_length()
        if bits > MAX_MODULUS_BITS:
            raise InvalidPrivateKeyError(modulus_refusal(where, "RSA", bits))
    return True


def _ssh_strings(blob: bytes, at: int, count: int) -> tuple[list[bytes], int] | None:
    """`count` length-prefixed strings of `blob` from `at`, and where they end; None if
    they overrun it."""
    found = []
    for _ in range(count):
        if at + 4 > len(blob):
            return None
        size = int.from_bytes(blob[at : at + 4], "big")
        if at + 4 + size > len(blob):
            return None
        found.append(blob[at + 4 : at + 4 + size])
        at += 4 + size
    return found, at


def cap_fix(message: str) -> str | None:
    """The fix a refusal of this module names in `message`; None for any other message."""
    for fix in (REENCRYPT_OPENSSH, REENCRYPT_PKCS8, NEW_KEY):
        if fix in message:
            return fix
    return None


def _over_cap(where: str, name: str, value: str, cap: str, fix: str) -> str:
    return (
        f"{where} is encrypted with {name} = {value}, over kalshi-auth's cap of {cap}: "
        f"decrypting it would hold up every thread of this process for too long; {fix}"
    )


def _damaged(where: str, name: str, value: int, rule: str) -> str:
    return (
        f"{where} is damaged: its {name} is {_shown(value)}, and must be {rule}; copy the "
        "whole key file again, or re-encrypt the key"
    )


def _unknown(where: str, what: str) -> str:
    return (
        f"{where} is encrypted with {what} kalshi-auth does not know, so the cost of "
        f"decrypting it cannot be bounded ({_READS}); {REENCRYPT_PKCS8}"
    )


def _shown(value: int) -> str:
    """`value` in decimal, or its size if it is too long to print (a hostile 60 KB one)."""
    return f"{value}" if value.bit_length() <= 80 else f"a {value.bit_length()}-bit number"


def _too_large_encrypted(size: int, where: str) -> str:
    return (
        f"{where} is an encrypted key of {size} bytes, over the cap of "
        f"{MAX_ENCRYPTED_KEY_BYTES} (an RSA-8192 key, the largest accepted, takes under 5 KiB "
        "encrypted): it is not a key Kalshi issues, and what it holds is unknown until it is "
        "decrypted; decrypt it, or use the key file Kalshi gave you"
    )
