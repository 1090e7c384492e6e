"""The demo API started in-process with ``vaultgate.demo.api.start``."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from vaultgate.demo.api import DemoAPI, start
from vaultgate.demo.tokens import KeyFileError, public_jwk


async def _get(api: DemoAPI, path: str, token: str = "") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", api.port)
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = f"GET {path} HTTP/1.1\r\nHost: demo\r\n{auth}Connection: close\r\n\r\n"
    writer.write(request.encode())
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def _pem(tmp_path: Path) -> tuple[Path, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "signing.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path, key


async def test_start_serves_on_a_free_port_until_closed() -> None:
    api = await start("127.0.0.1", 0)
    try:
        assert api.port > 0 and api.url == f"http://127.0.0.1:{api.port}"
        assert await _get(api, "/health") == (
            200,
            b'{"status":"ok","service":"demo-bank"}',
        )
    finally:
        await api.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", api.port)


async def test_issue_token_gives_a_token_the_api_accepts() -> None:
    api = await start("127.0.0.1", 0)
    try:
        token = api.issue_token("carol")
        status, body = await _get(api, "/accounts", token)
        assert status == 200
        assert [a["id"] for a in json.loads(body)["accounts"]] == [1007, 1008, 1009]
        with pytest.raises(KeyError, match="mallory"):
            api.issue_token("mallory")
    finally:
        await api.close()


async def test_a_key_file_signs_the_tokens_and_fills_the_jwks(tmp_path: Path) -> None:
    path, key = _pem(tmp_path)
    api = await start("127.0.0.1", 0, key_path=str(path))
    try:
        assert api.jwks == {"keys": [public_jwk(key)]}
        token = api.issue_token("alice")
        claims = jwt.decode(token, key.public_key(), ["ES256"], audience="payments-api")
        assert claims["sub"] == "u-10001"
        api.write_jwks(str(tmp_path / "jwks.json"))
        assert json.loads((tmp_path / "jwks.json").read_text()) == api.jwks
    finally:
        await api.close()


async def test_expired_and_not_yet_valid_tokens_are_refused(tmp_path: Path) -> None:
    path, key = _pem(tmp_path)
    api = await start("127.0.0.1", 0, key_path=str(path))
    try:
        good = jwt.decode(api.issue_token("alice"), options={"verify_signature": False})
        now = int(time.time())
        expired = {**good, "iat": now - 3600, "nbf": now - 3600, "exp": now - 60}
        early = {**good, "nbf": now + 600, "exp": now + 1200}
        headers = {"kid": api.jwks["keys"][0]["kid"]}
        for claims in (expired, early):
            token = jwt.encode(claims, key, "ES256", headers=headers)
            assert (await _get(api, "/accounts", token))[0] == 401
    finally:
        await api.close()


@pytest.mark.parametrize("content", [b"", b"not a pem", None])
async def test_a_bad_key_file_is_refused_naming_the_file(
    tmp_path: Path, content: bytes | None
) -> None:
    path = tmp_path / "key.pem"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(KeyFileError, match="key.pem"):
        await start("127.0.0.1", 0, key_path=str(path))


async def test_an_rsa_key_file_is_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path / "rsa.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyFileError, match="EC P-256"):
        await start("127.0.0.1", 0, key_path=str(path))
