"""The HTTP edge: one aiohttp session, conditional GET, caps on time and size, file:// too.

Bodies are read in chunks and decompressed by us (not by aiohttp), so both the transferred
and the decompressed size are capped: a gzip bomb stops at `max_bytes` like any huge body.
Every outcome, good or bad, comes back as a `Response` or a `FetchError` with a short reason
that the poller records on the source's row.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import ipaddress
import socket
import time
import zlib
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiohttp

from . import __version__
from .errors import FetchError

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Validators:
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Response:
    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""
    duration_ms: int = 0
    wire_bytes: int = 0  # bytes received before decompression
    permanent_redirect: str | None = None  # target when every hop was 301/308

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def validators(self) -> Validators:
        return Validators(self.headers.get("etag"), self.headers.get("last-modified"))


def default_user_agent(base_url: str = "") -> str:
    contact = f"; +{base_url}" if base_url else ""
    return f"aggregator/{__version__} (feed aggregator for local news{contact})"


class _Decoder:
    """Streaming gzip/deflate decoder that never produces more than `limit` bytes."""

    def __init__(self, encoding: str, limit: int):
        encoding = encoding.strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self._z: zlib._Decompress | None = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()
            self._raw_fallback = True
        elif encoding in ("", "identity"):
            self._z = None
        else:
            raise FetchError(f"unsupported Content-Encoding {encoding!r}", "encoding")
        self._encoding = encoding
        self._limit = limit
        self._first = True

    def feed(self, chunk: bytes, produced: int) -> bytes:
        if self._z is None:
            return chunk
        room = self._limit - produced + 1
        try:
            out = self._z.decompress(chunk, room)
        except zlib.error:
            if self._encoding == "deflate" and self._first:
                # some servers send raw deflate without the zlib header
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                self._first = False
                return self.feed(chunk, produced)
            raise FetchError("corrupt compressed body", "encoding") from None
        self._first = False
        if self._z.unconsumed_tail and len(out) >= room:
            return out  # the caller sees it is over the cap
        return out


def is_public_address(host: str) -> bool:
    """False for loopback, private, link-local, multicast, reserved and metadata addresses."""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    for info in infos:
        addr = ipaddress.ip_address(info[4][0].split("%")[0])
        if (
            addr.is_private
            or addr.is_loopback
            or addr.is_link_local
            or addr.is_multicast
            or addr.is_reserved
            or addr.is_unspecified
        ):
            return False
    return True


class Fetcher:
    """Owns the aiohttp session and the per-host limits; use as an async context manager."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        max_bytes: int = 10_000_000,
        user_agent: str | None = None,
        per_host: int = 2,
        concurrency: int = 64,
    ):
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_bytes = max_bytes
        self.user_agent = user_agent or default_user_agent()
        self.per_host = per_host
        self.concurrency = concurrency
        self._session: aiohttp.ClientSession | None = None
        self._host_limits: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self.per_host)
        )

    async def __aenter__(self) -> Fetcher:
        connector = aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=self.per_host,
                                         ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(
                total=self.timeout, sock_connect=self.connect_timeout, sock_read=self.timeout
            ),
            headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"},
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get(
        self,
        url: str,
        *,
        validators: Validators | None = None,
        accept: str = "*/*",
        allow_private: bool = True,
    ) -> Response:
        """GET one URL. Raises FetchError with a readable message on any failure.

        `allow_private=False` refuses URLs that resolve to non-public addresses; it is used
        for URLs found inside fetched content, which a hostile page could aim at us.
        """
        scheme = urlsplit(url).scheme.lower()
        if scheme == "file":
            return await asyncio.to_thread(self._read_file, url, validators)
        if scheme not in ("http", "https"):
            raise FetchError(f"unsupported URL scheme {scheme!r} in {url}", "url")
        host = urlsplit(url).hostname or ""
        if not host:
            raise FetchError(f"no host in URL {url}", "url")
        if not allow_private and not await asyncio.to_thread(is_public_address, host):
            raise FetchError(
                f"refused to fetch {url}: it resolves to a private or local address "
                "(set allow_private = true on the source to permit it)",
                "private-address",
            )
        headers = {"Accept": accept}
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        assert self._session is not None, "use Fetcher as an async context manager"
        start = time.monotonic()
        async with self._host_limits[host]:
            try:
                return await asyncio.wait_for(
                    self._get(url, headers, start), timeout=self.timeout + 1
                )
            except FetchError:
                raise
            except TimeoutError:
                raise FetchError(f"timed out after {self.timeout:g}s", "timeout") from None
            except aiohttp.TooManyRedirects:
                raise FetchError("too many redirects", "redirects") from None
            except aiohttp.ClientConnectorError as exc:
                raise FetchError(f"cannot connect: {exc.os_error or exc}", "connect") from None
            except aiohttp.ClientPayloadError as exc:
                raise FetchError(f"broken response body: {exc}", "payload") from None
            except aiohttp.ClientError as exc:
                raise FetchError(f"HTTP client error: {exc}", "client") from None

    async def _get(self, url: str, headers: dict[str, str], start: float) -> Response:
        assert self._session is not None
        async with self._session.get(url, headers=headers, max_redirects=10) as resp:
            hdrs = {k.lower(): v for k, v in resp.headers.items()}
            permanent = None
            if resp.history and all(r.status in (301, 308) for r in resp.history):
                permanent = str(resp.url)
            body = b""
            wire = 0
            if resp.status != 304:
                body, wire = await self._read_body(resp, hdrs.get("content-encoding", ""))
            return Response(
                url=url,
                final_url=str(resp.url),
                status=resp.status,
                headers=hdrs,
                body=body,
                duration_ms=int((time.monotonic() - start) * 1000),
                wire_bytes=wire,
                permanent_redirect=permanent,
            )

    async def _read_body(self, resp: aiohttp.ClientResponse, encoding: str) -> tuple[bytes, int]:
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes and not encoding:
            raise FetchError(
                f"body too large: {int(declared):,} bytes declared, cap is {self.max_bytes:,}",
                "too-large",
            )
        decoder = _Decoder(encoding, self.max_bytes)
        parts: list[bytes] = []
        produced = wire = 0
        async for chunk in resp.content.iter_chunked(CHUNK):
            wire += len(chunk)
            if wire > self.max_bytes:
                raise FetchError(f"body too large: over {self.max_bytes:,} bytes", "too-large")
            out = decoder.feed(chunk, produced)
            produced += len(out)
            if produced > self.max_bytes:
                raise FetchError(
                    f"body too large after decompression: over {self.max_bytes:,} bytes",
                    "too-large",
                )
            parts.append(out)
        return b"".join(parts), wire

    def _read_file(self, url: str, validators: Validators | None) -> Response:
        start = time.monotonic()
        path = Path(unquote(urlsplit(url).path))
        try:
            stat = path.stat()
        except OSError as exc:
            raise FetchError(f"cannot read {path}: {exc.strerror}", "file") from None
        modified = email.utils.formatdate(stat.st_mtime, usegmt=True)
        if validators and validators.last_modified == modified:
            return Response(url, url, 304, {"last-modified": modified})
        if stat.st_size > self.max_bytes:
            raise FetchError(f"file too large: {stat.st_size:,} bytes", "too-large")
        with contextlib.suppress(OSError), path.open("rb") as fh:
            body = fh.read(self.max_bytes + 1)
            return Response(
                url,
                url,
                200,
                {"last-modified": modified},
                body,
                duration_ms=int((time.monotonic() - start) * 1000),
                wire_bytes=len(body),
            )
        raise FetchError(f"cannot read {path}", "file")
