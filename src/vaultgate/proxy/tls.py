"""TLS termination: the server context, and what a connection's TLS says.

The context accepts TLS 1.2 and 1.3 only, with Python's default cipher
suites, and offers HTTP/1.1 by ALPN.  With ``tls.client_ca`` set, client
certificates are requested and verified when given (a route that requires
one says so in its own section); the SHA-256 of the certificate's DER goes
into the request model for RFC 8705 certificate-bound tokens.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl

from vaultgate.core.policy import TLSSettings
from vaultgate.core.request import TLSInfo
from vaultgate.errors import PolicyError


def server_context(settings: TLSSettings, source: str) -> ssl.SSLContext:
    """A server SSL context from the policy's ``tls`` section."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_RENEGOTIATION
    context.set_alpn_protocols(["http/1.1"])
    load_certificate(context, settings, source)
    if settings.client_ca:
        try:
            context.load_verify_locations(cafile=settings.client_ca)
        except (OSError, ssl.SSLError) as exc:
            raise PolicyError(
                source, "tls.client_ca", "a readable PEM CA file", _why(exc)
            ) from None
        context.verify_mode = ssl.CERT_OPTIONAL
    context.sni_callback = _remember_server_name
    return context


def load_certificate(
    context: ssl.SSLContext, settings: TLSSettings, source: str
) -> None:
    """Load (or, on reload, replace) the certificate and key."""
    try:
        context.load_cert_chain(settings.cert, settings.key)
    except (OSError, ssl.SSLError) as exc:
        raise PolicyError(
            source, "tls.cert", "a readable PEM certificate and matching key", _why(exc)
        ) from None


def _why(exc: OSError | ssl.SSLError) -> str:
    return str(exc.strerror or exc) if isinstance(exc, OSError) else str(exc)


def _remember_server_name(
    sslobj: ssl.SSLObject | ssl.SSLSocket, name: str | None, context: ssl.SSLContext
) -> None:
    # The server side has no record of the SNI name otherwise.
    sslobj.vaultgate_sni = name or ""  # type: ignore[union-attr]


def tls_info(transport: asyncio.BaseTransport) -> TLSInfo:
    """What the handshake of a TLS connection established."""
    obj = transport.get_extra_info("ssl_object")
    if obj is None:
        return TLSInfo()
    cipher = obj.cipher()
    der = obj.getpeercert(binary_form=True)
    return TLSInfo(
        version=obj.version() or "",
        cipher=cipher[0] if cipher else "",
        sni=getattr(obj, "vaultgate_sni", ""),
        client_cert_sha256=hashlib.sha256(der).digest() if der else b"",
    )
