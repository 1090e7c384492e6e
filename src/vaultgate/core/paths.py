"""Path normalisation for routing (RFC 3986 section 5.2.4 and 6.2.2).

Routes are matched on the normalised path so that ``/accounts/%31``,
``/accounts//1`` and ``/x/../accounts/1`` reach the same route and its
guards as ``/accounts/1``: an attacker must not dodge a route's protection
by spelling its path differently.  The upstream still receives the path as
the client sent it; the traversal detector judges the spelling.
"""

from __future__ import annotations

from urllib.parse import unquote


def normalize_path(raw: str) -> str:
    """Decode once, fold backslashes and repeated slashes, remove dot segments."""
    if "%" in raw:
        raw = unquote(raw, errors="surrogateescape")
    if "\\" in raw:
        raw = raw.replace("\\", "/")
    if "//" not in raw and "/." not in raw:
        return raw or "/"
    return remove_dot_segments(raw)


def remove_dot_segments(path: str) -> str:
    """Fold empty segments and resolve ``.`` and ``..``; keep a trailing slash."""
    out: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    trailing = "/" if path.endswith("/") and out else ""
    return "/" + "/".join(out) + trailing
