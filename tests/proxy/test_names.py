"""The remembered field names of the request side: exact, and bounded."""

from __future__ import annotations

from vaultgate.proxy import connection, wire


def test_a_remembered_name_has_its_text_and_its_handling() -> None:
    for raw, kind in [
        (b"Host", wire.HOST),
        (b"HOST", wire.HOST),
        (b"content-Length", wire.LENGTH),
        (b"X-Forwarded-For", wire.XFF),
        (b"TE", wire.DROP),
        (b"X-Request-Id", 0),
    ]:
        first = connection._learn_name(raw)
        assert first == (raw.decode("latin-1"), kind)
        assert connection._NAMES[raw] == first


def test_the_name_table_is_emptied_when_full() -> None:
    connection._NAMES.clear()
    for i in range(connection.MAX_NAMES):
        connection._learn_name(b"X-Name-%d" % i)
    assert len(connection._NAMES) == connection.MAX_NAMES
    assert connection._learn_name(b"X-One-Over") == ("X-One-Over", 0)
    assert connection._NAMES == {b"X-One-Over": ("X-One-Over", 0)}
