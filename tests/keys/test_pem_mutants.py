"""The PEM armor functions, each held to its exact answer: the positions a BEGIN or END
line spans, the bounds on spaces, label length and block count, what unmangling undoes
and what it leaves, the legacy headers, base64 padding and the OpenSSH cipher name. Each
test is one a mutant of `kalshi_auth._pem` changed the answer of (docs/quality.md)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from kalshi_auth._pem import (
    Armor,
    BeginLine,
    begin_lines,
    end_line,
    is_base64,
    openssh_cipher,
    pem_label,
    split_legacy_headers,
    unmangle,
)

MAGIC = b"openssh-key-v1\0"


def openssh_body(cipher: bytes, size: int | None = None, tail: bytes = b"\0" * 60) -> str:
    """The base64 body of an OpenSSH key whose cipher field holds `cipher`, its length
    prefix `size` (default: the true length)."""
    prefix = (len(cipher) if size is None else size).to_bytes(4, "big")
    return base64.b64encode(MAGIC + prefix + cipher + tail).decode()


def real_openssh_body(password: bytes | None) -> str:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption
    )
    return "".join(line for line in pem.decode().splitlines() if not line.startswith("-----"))


# --- Armor ---------------------------------------------------------------------------


def test_an_unencrypted_openssh_key_is_not_encrypted() -> None:
    body = real_openssh_body(None)
    assert len(body) > 65  # the cipher is read from the first 64 characters only
    assert openssh_cipher(body) == "none"
    assert Armor("OPENSSH PRIVATE KEY", (), body).encrypted is False


def test_an_encrypted_openssh_key_is_encrypted() -> None:
    body = real_openssh_body(b"pw")
    assert openssh_cipher(body) == "aes256-ctr"
    assert Armor("OPENSSH PRIVATE KEY", (), body).encrypted is True


def test_an_openssh_label_over_a_body_that_is_not_openssh_is_not_encrypted() -> None:
    assert Armor("OPENSSH PRIVATE KEY", (), "QUJD").encrypted is False


def test_pkcs8_encrypted_label_is_encrypted_and_plain_labels_are_not() -> None:
    assert Armor("ENCRYPTED PRIVATE KEY", (), "QUJD").encrypted is True
    assert Armor("PRIVATE KEY", (), "QUJD").encrypted is False
    assert Armor("RSA PRIVATE KEY", (), "QUJD").encrypted is False


@pytest.mark.parametrize("value", ["4,ENCRYPTED", "4,encrypted", "4,Encrypted"])
def test_a_proc_type_saying_encrypted_in_any_case_makes_it_encrypted(value: str) -> None:
    headers = (("Proc-Type", value), ("DEK-Info", "AES-128-CBC,00"))
    assert Armor("RSA PRIVATE KEY", headers, "QUJD").encrypted is True


def test_encrypted_counts_only_in_the_proc_type_header() -> None:
    assert Armor("RSA PRIVATE KEY", (("Proc-Type", "4,MIC-ONLY"),), "QUJD").encrypted is False
    assert Armor("RSA PRIVATE KEY", (("DEK-Info", "ENCRYPTED"),), "QUJD").encrypted is False
    assert Armor("RSA PRIVATE KEY", (("proc-type", "4,ENCRYPTED"),), "QUJD").encrypted is False


def test_der_is_the_body_decoded() -> None:
    assert Armor("PRIVATE KEY", (), "QUJD").der() == b"ABC"


def test_pem_wraps_at_64_under_its_own_label_with_no_blank_line_without_headers() -> None:
    body = "A" * 64 + "B" * 64 + "C" * 4
    assert Armor("PRIVATE KEY", (), body).pem() == (
        b"-----BEGIN PRIVATE KEY-----\n"
        + b"A" * 64
        + b"\n"
        + b"B" * 64
        + b"\nCCCC\n-----END PRIVATE KEY-----\n"
    )


def test_pem_writes_headers_then_a_blank_line_and_takes_another_label() -> None:
    headers = (("Proc-Type", "4,ENCRYPTED"), ("DEK-Info", "AES-128-CBC,0A"))
    assert Armor("X", headers, "QUJD").pem("RSA PRIVATE KEY") == (
        b"-----BEGIN RSA PRIVATE KEY-----\n"
        b"Proc-Type: 4,ENCRYPTED\n"
        b"DEK-Info: AES-128-CBC,0A\n"
        b"\n"
        b"QUJD\n"
        b"-----END RSA PRIVATE KEY-----\n"
    )


# --- unmangle --------------------------------------------------------------------------


UNMANGLED = {
    "literal backslash-n": ("a\\nb", "a\nb"),
    "literal backslash-r backslash-n": ("a\\r\\nb", "a\nb"),
    "literal backslash-r alone is dropped": ("a\\rb", "ab"),
    "CRLF": ("a\r\nb", "a\nb"),
    "a lone CR ends a line": ("a\rb", "a\nb"),
    "blank lines and spaces around": ("  \n a \n  ", "a"),
    "double quotes": ('"abc"', "abc"),
    "single quotes": ("'abc'", "abc"),
    "quoted twice": ("\"'abc'\"", "abc"),
    "a third pair stays": ('"\'"abc"\'"', '"abc"'),
    "spaces inside the quotes": ('" abc "', "abc"),
    "spaces inside two quotes": ("\"'  abc  '\"", "abc"),
    "unmatched quotes stay": ("\"abc'", "\"abc'"),
    "backticks are no quotes": ("`abc`", "`abc`"),
    "letters are no quotes": ("XabcX", "XabcX"),
    "one quote is no pair": ('"', '"'),
    "an empty pair": ('""', ""),
}


@pytest.mark.parametrize(("mangled", "clean"), list(UNMANGLED.values()), ids=list(UNMANGLED))
def test_unmangle(mangled: str, clean: str) -> None:
    assert unmangle(mangled) == clean


# --- begin_lines and pem_label ---------------------------------------------------------


def test_a_begin_line_reports_its_label_and_span() -> None:
    text = "xx-----BEGIN RSA PRIVATE KEY-----yy"
    assert begin_lines(text) == [BeginLine("RSA PRIVATE KEY", 2, 33)]
    assert text[2:33] == "-----BEGIN RSA PRIVATE KEY-----"


def test_a_begin_line_at_the_very_start_is_found() -> None:
    assert begin_lines("-----BEGIN X-----") == [BeginLine("X", 0, 17)]


def test_begin_without_dashes_before_it_is_no_line() -> None:
    assert begin_lines("BEGIN X-----") == []
    assert begin_lines("----BEGIN X-----") == []
    assert begin_lines("-----BEGIN X----") == []
    assert begin_lines("ab-----xBEGIN X-----") == []
    assert begin_lines("ab-----XBEGIN X-----") == []
    assert begin_lines("-----BEGIN ABC") == []  # no closing dashes
    assert begin_lines("-----BEGIN ABC\n") == []


def test_spaces_between_dashes_begin_and_label_are_tolerated_up_to_sixteen() -> None:
    for gap in (" ", "\t", "\n", " " * 16):
        text = f"-----{gap}BEGIN X -----"
        assert begin_lines(text) == [BeginLine("X", 0, len(text))]
    assert begin_lines("-----" + " " * 17 + "BEGIN X-----") == []


def test_the_label_window_is_seventy_two_characters_after_begin() -> None:
    # the closing dashes must end within 40 + 2 * 16 characters of the label's start
    assert begin_lines("-----BEGIN " + "A" * 67 + "-----") == [BeginLine("A" * 67, 0, 83)]
    assert begin_lines("-----BEGIN " + "A" * 68 + "-----") == []


@pytest.mark.parametrize("label", ["", "   ", "rsa private key", "RSA-KEY", "RSA_KEY"])
def test_labels_are_capitals_digits_and_spaces_and_not_empty(label: str) -> None:
    assert begin_lines(f"-----BEGIN {label}-----") == []


def test_labels_may_hold_digits() -> None:
    assert begin_lines("-----BEGIN X509 CRL-----") == [BeginLine("X509 CRL", 0, 24)]


def test_every_begin_line_in_order_and_no_more_than_sixteen() -> None:
    two = "-----BEGIN A-----\nbody\n-----BEGIN B-----"
    assert begin_lines(two) == [BeginLine("A", 0, 17), BeginLine("B", 23, 40)]
    many = "".join(f"-----BEGIN K{i}-----\n" for i in range(20))
    found = begin_lines(many)
    assert [line.label for line in found] == [f"K{i}" for i in range(16)]


def test_a_false_begin_does_not_hide_the_next() -> None:
    text = "BEGIN x -----BEGIN A-----"
    assert begin_lines(text) == [BeginLine("A", 8, 25)]
    # the search goes on from the end of a line found: two lines may share dashes
    assert begin_lines("-----BEGIN A-----BEGIN B-----") == [
        BeginLine("A", 0, 17),
        BeginLine("B", 12, 29),
    ]


def test_pem_label_unmangles_and_reads_the_first_label() -> None:
    assert pem_label('"-----BEGIN EC PRIVATE KEY-----\\nQUJD\\n-----END EC PRIVATE KEY-----"') == (
        "EC PRIVATE KEY"
    )
    assert pem_label("no armor here") is None


# --- end_line --------------------------------------------------------------------------


def test_an_end_line_reports_its_span() -> None:
    assert end_line("-----END X-----", "X", 0) == (0, 15)
    assert end_line("body\n----- END X -----\n", "X", 0) == (5, 22)


def test_an_end_line_must_start_at_or_after_start() -> None:
    text = "ab-----END X-----"
    assert end_line(text, "X", 2) == (2, 17)
    assert end_line(text, "X", 3) is None


def test_an_end_line_needs_dashes_on_both_sides_and_its_own_label() -> None:
    assert end_line("END X-----", "X", 0) is None
    assert end_line("-----END X----", "X", 0) is None
    assert end_line("-----END Y-----", "X", 0) is None
    assert end_line("-----" + " " * 17 + "END X-----", "X", 0) is None
    assert end_line("-----END X" + " " * 17 + "-----", "X", 0) is None
    assert end_line("-----END X" + " " * 16 + "-----", "X", 0) == (0, 31)


def test_an_end_line_is_the_first_framed_one() -> None:
    text = "END X junk -----END X-----"
    assert end_line(text, "X", 0) == (11, 26)
    assert end_line("-----END X----- -----END X-----", "X", 0) == (0, 15)
    assert end_line("END X junk -----END X----- -----END X-----", "X", 0) == (11, 26)


def test_only_spaces_tabs_and_newlines_may_pad_an_end_line() -> None:
    assert end_line("-----END X\t\n -----", "X", 0) == (0, 18)
    assert end_line("-----END AX-----", "A", 0) is None
    assert end_line("-----XEND A-----", "A", 0) is None


# --- split_legacy_headers --------------------------------------------------------------


def test_legacy_headers_are_split_from_the_body() -> None:
    inner = "\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,ABCD\n\nQUJD\nRUZH"
    assert split_legacy_headers(inner) == (
        (("Proc-Type", "4,ENCRYPTED"), ("DEK-Info", "AES-128-CBC,ABCD")),
        "QUJD\nRUZH",
    )


def test_legacy_header_names_are_read_in_any_case() -> None:
    inner = "PROC-TYPE: 4,ENCRYPTED dek-info: DES-EDE3-CBC,01 QUJD"
    assert split_legacy_headers(inner) == (
        (("Proc-Type", "4,ENCRYPTED"), ("DEK-Info", "DES-EDE3-CBC,01")),
        "QUJD",
    )


@pytest.mark.parametrize(
    "inner",
    [
        "  QUJD\n",  # no headers: the text comes back as it was, spaces included
        " Proc-Type: 4,ENCRYPTED\nQUJD",  # no DEK-Info
        "Proc-Type: 4,ENCRYPTED\nDEK-Info:",  # an empty DEK-Info
        "Proc-Type:",
        "Proc-Typ: 4 DEK-Info: x QUJD",
        "Proc-Type: 4 DEK-Inf: x QUJD",
    ],
)
def test_text_without_both_headers_comes_back_whole(inner: str) -> None:
    assert split_legacy_headers(inner) == ((), inner)


def test_legacy_header_values_need_no_space_after_the_colon() -> None:
    assert split_legacy_headers("Proc-Type:4,ENCRYPTED\nDEK-Info:AES-128-CBC,0A\n\nQUJD") == (
        (("Proc-Type", "4,ENCRYPTED"), ("DEK-Info", "AES-128-CBC,0A")),
        "QUJD",
    )


def test_a_dek_info_with_nothing_after_it_leaves_no_body() -> None:
    assert split_legacy_headers("Proc-Type: 4 DEK-Info: x") == (
        (("Proc-Type", "4"), ("DEK-Info", "x")),
        "",
    )


# --- is_base64 -------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["QUJD", "QUI=", "QQ==", "ab+/", "QUJDRA==", "QXX=", "XXX="])
def test_base64_with_correct_padding(body: str) -> None:
    assert is_base64(body) is True


@pytest.mark.parametrize(
    "body", ["", "====", "Q===", "QUJ", "QQ=", "QUJDR", "QU-D", "QU_D", "QU D"]
)
def test_not_base64(body: str) -> None:
    assert is_base64(body) is False


# --- openssh_cipher --------------------------------------------------------------------


def test_the_cipher_name_is_read_from_its_length_prefix() -> None:
    assert openssh_cipher(openssh_body(b"none")) == "none"
    assert openssh_cipher(openssh_body(b"aes256-ctr")) == "aes256-ctr"
    assert openssh_cipher(openssh_body(b"")) == ""


def test_a_non_ascii_cipher_name_is_replaced_not_raised() -> None:
    assert openssh_cipher(openssh_body(b"a\xffb")) == "a\ufffdb"


def test_a_length_prefix_past_the_head_is_no_cipher() -> None:
    # the head is the first 48 bytes: 15 of magic, 4 of length, 29 of name at most
    assert openssh_cipher(openssh_body(b"", size=29)) == "\0" * 29
    assert openssh_cipher(openssh_body(b"", size=30)) is None


def test_a_head_too_short_for_a_length_is_no_cipher() -> None:
    assert openssh_cipher(base64.b64encode(MAGIC + b"\0\0\0").decode()) is None
    assert openssh_cipher(base64.b64encode(MAGIC + b"\0\0\0\0").decode()) == ""


def test_other_bodies_are_no_openssh_key() -> None:
    assert openssh_cipher(base64.b64encode(b"openssh-key-v2\0" + b"\0" * 40).decode()) is None
    assert openssh_cipher("QUJ") is None  # bad padding
