"""``mysql://USER:PASSWORD@HOST:PORT`` URLs, read the way people write them, never echoed.

``urllib.parse`` reads a password holding ``/``, ``#``, ``?`` or ``@`` as the start of a path, fragment or
query (or a host), and then reports a piece of the password as a bad port. Here the user information ends
at the *last* ``@`` (as curl, libpq and go-sql-driver do), so such a password works written as it is, and
percent-encoding still works for everything else (write ``%`` itself as ``%25``). Errors never repeat any
part of the URL: a typo near the password would otherwise print it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

_FORM = "mysql://USER[:PASSWORD]@HOST[:PORT]"
_AFTER_USERINFO = re.compile(
    r"(?P<authority>[^/?#]*)(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?(?:#(?P<fragment>.*))?", re.DOTALL
)


class MySQLURLError(ValueError):
    """A URL that cannot be read. The message holds no part of the URL."""


@dataclass(frozen=True, slots=True)
class MySQLURL:
    """A parsed URL: ``user`` / ``password`` are decoded, None when the URL has none."""

    scheme: str
    host: str
    port: int | None
    user: str | None
    password: str | None = field(repr=False)
    path: str = ""
    query: str = ""
    fragment: str = ""


def parse_mysql_url(url: str) -> MySQLURL:
    scheme, sep, rest = url.strip().partition("://")
    if not sep or not scheme:
        raise MySQLURLError(f"it is not a URL; write it as {_FORM}")
    userinfo, at, after = rest.rpartition("@")
    if not at:
        userinfo, after = "", rest
    parts = _AFTER_USERINFO.fullmatch(after)
    assert parts is not None  # the pattern matches any text
    host, port = _host_port(parts["authority"])
    user = password = None
    if at:
        user_text, colon, password_text = userinfo.partition(":")
        user = unquote(user_text)
        password = unquote(password_text) if colon else None
    return MySQLURL(
        scheme=scheme.lower(),
        host=host,
        port=port,
        user=user,
        password=password,
        path=parts["path"] or "",
        query=parts["query"] or "",
        fragment=parts["fragment"] or "",
    )


def _host_port(authority: str) -> tuple[str, int | None]:
    if authority.startswith("["):  # [::1]:4000
        close = authority.find("]")
        if close < 0:
            raise MySQLURLError("the IPv6 address is missing its closing ']'")
        host, port_text = authority[1:close], authority[close + 1:]
        if port_text and not port_text.startswith(":"):
            raise MySQLURLError("only ':PORT' may follow the IPv6 address")
        port_text = port_text[1:]
    else:
        host, _, port_text = authority.partition(":")
    if not host:
        raise MySQLURLError(f"it names no host; write it as {_FORM}")
    if not port_text:
        return host, None
    if not port_text.isascii() or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        # Not shown: without an '@' this text may well be a password.
        raise MySQLURLError(f"the port is not a number from 1 to 65535; write it as {_FORM}")
    return host, int(port_text)


def redact_mysql_url(url: str) -> str:
    """The URL with its password replaced by ``******`` (and, when it cannot be read, all after the
    scheme: a URL that does not parse may hold a password anywhere)."""
    try:
        parsed = parse_mysql_url(url)
    except MySQLURLError:
        scheme, sep, _ = url.partition("://")
        return f"{scheme}://******" if sep else "******"
    scheme, _, rest = url.strip().partition("://")
    userinfo, at, after = rest.rpartition("@")
    if not at or parsed.password is None:
        return url
    return f"{scheme}://{userinfo.partition(':')[0]}:******@{after}"
