"""Proof-of-work challenges and clearance tokens: pure functions, no I/O.

How this works: a challenge is ``1.<issued>.<difficulty>.<nonce>.<mac>``,
a text the server signs (HMAC-SHA256) together with a digest of the client
it was issued to (address and user agent), so it needs no server state.
The client finds a decimal ``counter`` such that SHA-256 of
``challenge + ":" + counter`` starts with ``difficulty`` zero bits, which
takes about ``2 ** difficulty`` hashes to find and one to check.  A solved
challenge earns a clearance ``1.<expires>.<mac>``, bound to the same client.
Challenge and clearance MACs use different labels, so one can never pass
for the other.  Replay of a solution is refused by the caller
(``Store.first_seen`` on the nonce); times are passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

VERSION = "1"
# 32 bits is about four billion hashes: minutes in a browser.  Past it a
# challenge is a denial of service on real users.
MAX_DIFFICULTY = 32
# A counter of 20 digits covers 2**64 tries; longer is not a solution.
MAX_COUNTER_DIGITS = 20
# Clocks of the processes sharing a key may disagree this much.
CLOCK_SKEW = 5
_MAC_BYTES = 16  # 128-bit tags: forgery is out of reach


def client_binding(client: str, user_agent: str) -> bytes:
    """The digest a challenge or clearance is bound to."""
    text = f"{client}\n{user_agent}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(text).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _mac(key: bytes, label: bytes, body: str, binding: bytes) -> str:
    message = label + b"|" + body.encode("ascii") + b"|" + binding
    return _b64(hmac.new(key, message, hashlib.sha256).digest()[:_MAC_BYTES])


def issue(key: bytes, nonce: bytes, now: int, difficulty: int, binding: bytes) -> str:
    """A challenge for the client ``binding`` names."""
    body = f"{VERSION}.{now}.{difficulty}.{_b64(nonce)}"
    return f"{body}.{_mac(key, b'pow', body, binding)}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a solution is good; ``nonce`` names it for the replay check."""

    ok: bool
    reason: str = ""
    nonce: str = ""


def leading_zero_bits(digest: bytes) -> int:
    """How many zero bits ``digest`` starts with."""
    bits = 0
    for byte in digest:
        if byte:
            return bits + 8 - byte.bit_length()
        bits += 8
    return bits


def verify(
    key: bytes,
    challenge: str,
    counter: str,
    binding: bytes,
    now: int,
    solve_within: int,
    min_difficulty: int,
) -> Verdict:
    """Check a solution: signature, client, age, difficulty, then the work."""
    parts = challenge.split(".")
    if len(parts) != 5 or parts[0] != VERSION:
        return Verdict(False, "malformed")
    if not (parts[1].isdigit() and parts[2].isdigit()):
        return Verdict(False, "malformed")
    body = ".".join(parts[:4])
    if not hmac.compare_digest(parts[4], _mac(key, b"pow", body, binding)):
        return Verdict(False, "signature")
    issued, difficulty = int(parts[1]), int(parts[2])
    if not issued - CLOCK_SKEW <= now <= issued + solve_within:
        return Verdict(False, "expired")
    if difficulty < min_difficulty:
        return Verdict(False, "too-easy")
    if not counter.isdigit() or len(counter) > MAX_COUNTER_DIGITS:
        return Verdict(False, "malformed")
    work = hashlib.sha256(f"{challenge}:{counter}".encode("ascii")).digest()
    if leading_zero_bits(work) < difficulty:
        return Verdict(False, "work")
    return Verdict(True, nonce=parts[3])


def clearance(key: bytes, expires: int, binding: bytes) -> str:
    """A clearance token valid until ``expires`` for the client ``binding``."""
    body = f"{VERSION}.{expires}"
    return f"{body}.{_mac(key, b'clearance', body, binding)}"


def clearance_valid(key: bytes, token: str, binding: bytes, now: int) -> bool:
    """Whether ``token`` is a clearance for this client, still in force."""
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION or not parts[1].isdigit():
        return False
    body = f"{parts[0]}.{parts[1]}"
    good = hmac.compare_digest(parts[2], _mac(key, b"clearance", body, binding))
    return good and now < int(parts[1])


def solve(challenge: str, difficulty: int, limit: int = 1 << 30) -> str:
    """The first counter that solves ``challenge`` (reference API client)."""
    prefix = challenge.encode("ascii") + b":"
    for counter in range(limit):
        work = hashlib.sha256(prefix + str(counter).encode()).digest()
        if leading_zero_bits(work) >= difficulty:
            return str(counter)
    raise ValueError(f"no solution below {limit}")
