"""The web app's request rules that are not the token: loopback host names, same-origin writes, and the
headers every response carries.

Without a token the server listens on loopback only, but a page on another site can still reach it through
DNS rebinding (evil.example resolving to 127.0.0.1): the browser then sends `Host: evil.example`. Accepting only
loopback host names there closes that door; with a token the attacker has nothing to send.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",  # the pages' module scripts under /static, nothing inline
    # Stylesheets only from /static; style attributes (progress bars, team swatches) are allowed: browsers
    # that know style-src-elem keep elements to 'self', older ones fall back to style-src.
    "style-src 'self' 'unsafe-inline'", "style-src-elem 'self'",
    "img-src 'self' data: blob:", "media-src 'self' blob:", "connect-src 'self'",
    "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
])
"""What the app's own pages load: scripts, styles, images and the video from this origin, nothing else."""
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",  # for browsers without CSP frame-ancestors: no page of ours inside a frame
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the first page load's URL carries the token
}
"""Headers on every response."""


def host_name(host: str) -> str | None:
    """The name part of a Host header ("[::1]:8000" -> "::1"), lower case; None when it is malformed."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        rest = host[end + 1:] if end > 0 else "!"
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return None
        return host[1:end]
    name, sep, port = host.partition(":")
    if sep and not port.isdigit():
        return None
    return name or None


def loopback_host(host: str | None) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1), with or without a port."""
    name = host_name(host or "")
    if name is None:
        return False
    if name.rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def network_peer(scope) -> bool:
    """The request came over a network socket (its client is an IP address), so a browser may be behind it.

    An in-process ASGI call (Starlette's TestClient names its client "testclient") has no socket for a page
    to reach; the host rule does not apply there."""
    client = scope.get("client")
    if not client:
        return True  # unknown: treat as the network
    try:
        ipaddress.ip_address(str(client[0]))
    except ValueError:
        return False
    return True


def same_origin(request) -> bool:
    """The browser says the request comes from this site (Sec-Fetch-Site, else Origin matching Host)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return urlsplit(origin).netloc == request.headers.get("host", "")
