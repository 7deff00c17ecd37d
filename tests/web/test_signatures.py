"""X-Hub-Signature-256 against GitHub's documented test vector and malformed headers."""

from __future__ import annotations

import pytest

from epicstar.web.signatures import sign, verify

# docs.github.com, "Validating webhook deliveries" (research/github.md §3).
VECTOR_SECRET = b"It's a Secret to Everybody"
VECTOR_BODY = b"Hello, World!"
VECTOR_DIGEST = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_githubs_documented_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_BODY) == f"sha256={VECTOR_DIGEST}"
    assert verify(VECTOR_SECRET, VECTOR_BODY, f"sha256={VECTOR_DIGEST}")


def test_upper_case_hex_is_the_same_digest() -> None:
    assert verify(VECTOR_SECRET, VECTOR_BODY, f"sha256={VECTOR_DIGEST.upper()}")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        VECTOR_DIGEST,  # no prefix
        f"sha1={VECTOR_DIGEST}",
        f"SHA256={VECTOR_DIGEST}",
        f"sha256={VECTOR_DIGEST[:-1]}",  # 63 digits
        f"sha256={VECTOR_DIGEST}0",  # 65 digits
        f"sha256={VECTOR_DIGEST[:-1]}g",  # not hex
        f" sha256={VECTOR_DIGEST}",
        f"sha256={VECTOR_DIGEST}\n",
        "sha256=" + "é" * 64,  # not ASCII: refused, never a TypeError
        "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59",  # the SHA-1 header's value
    ],
)
def test_malformed_headers_do_not_verify(header: str | None) -> None:
    assert not verify(VECTOR_SECRET, VECTOR_BODY, header)


def test_another_body_or_secret_does_not_verify() -> None:
    header = f"sha256={VECTOR_DIGEST}"
    assert not verify(VECTOR_SECRET, b"Hello, World!\n", header)
    assert not verify(b"It's a secret to everybody", VECTOR_BODY, header)
    assert not verify(b"", VECTOR_BODY, header)
