"""Fetching a feed or an article file over HTTP: a conditional GET with a timeout, a size limit and
redirects followed within a limit; every failure a FetchError that says what went wrong."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

MAX_REDIRECTS = 5
USER_AGENT = "AMW-Digest feed reader (+https://amw.example)"


class FetchError(Exception):
    """The body could not be had: a timeout, a refused connection, an error status, too large."""


@dataclass(frozen=True)
class Fetched:
    status: int  # 200, or 304 (not modified: body is empty)
    body: bytes
    url: str  # after redirects
    etag: str | None
    last_modified: str | None
    content_type: str

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def check_url(url: str) -> str:
    """The URL if it is an http(s) URL with a host; FetchError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{url!r} is not an http(s) URL")
    return url.strip()


def fetch(url: str, *, etag: str | None = None, last_modified: str | None = None, timeout: float = 20.0,
          max_bytes: int = 5_000_000, max_redirects: int = MAX_REDIRECTS) -> Fetched:
    """GET url, sending If-None-Match / If-Modified-Since when given; a body over max_bytes is
    refused (by its Content-Length before reading, or as soon as the bytes read pass it)."""
    headers = {"User-Agent": USER_AGENT, "Accept": "application/feed+json, application/json, "
               "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with httpx.Client(follow_redirects=True, max_redirects=max_redirects, timeout=timeout) as client:
            with client.stream("GET", check_url(url), headers=headers) as response:
                return _read(response, max_bytes)
    except httpx.TooManyRedirects:
        raise FetchError(f"more than {max_redirects} redirects") from None
    except httpx.TimeoutException:
        raise FetchError(f"no answer within {timeout:g} seconds (timeout)") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}") from None


def _read(response: httpx.Response, max_bytes: int) -> Fetched:
    final = str(response.url)
    if response.status_code == 304:
        return Fetched(304, b"", final, response.headers.get("etag"), response.headers.get("last-modified"),
                       response.headers.get("content-type", ""))
    if response.status_code != 200:
        raise FetchError(f"HTTP {response.status_code} {response.reason_phrase}".rstrip())
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"the body is {int(declared)} bytes, over the limit of {max_bytes} (DIGEST_FEED_MAX_BYTES)")
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(f"the body is over the limit of {max_bytes} bytes (DIGEST_FEED_MAX_BYTES)")
        chunks.append(chunk)
    return Fetched(200, b"".join(chunks), final, response.headers.get("etag"),
                   response.headers.get("last-modified"), response.headers.get("content-type", ""))
