"""What the Together client says and decides about a URL.

Error texts name hosts and paths, never query strings (a presigned storage URL's
signature is a credential too) and never the key.
"""

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}

# scheme, host, port: what the API key may be sent to
Origin = tuple[str, str | None, int | None]


def describe(url: str) -> str:
    """A URL fit for an error message: no query string, no credentials."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


def where(scheme: str, host: str | None, port: int) -> str:
    """scheme://host[:port] of a URL, for a message: never its path or query."""
    shown = f"[{host}]" if host and ":" in host else (host or "")
    return f"{scheme}://{shown}" + ("" if port == DEFAULT_PORTS.get(scheme) else f":{port}")


def origin(url: str) -> Origin:
    parts = urlsplit(url)
    port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    return (parts.scheme, parts.hostname, port)
