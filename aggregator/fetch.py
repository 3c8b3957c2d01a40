"""The HTTP edge: one client, conditional GET, caps on time and size, politeness, file:// too.

Bodies are read in chunks and decompressed by us (not by aiohttp), so both the transferred
and the decompressed size are capped: a gzip bomb stops at `max_bytes` like any huge body.
Every outcome, good or bad, comes back as a `Response` or a `FetchError` with a short reason
that the poller records on the source's row.

Politeness and safety live here because this is the one place every request passes:

- a per-host "not before" map: after a 429/503 with Retry-After nothing is sent to that host
  (host:port, not the whole domain family) until the time has passed, whichever source or
  content link asks; the check is made after waiting for the per-host slot, right before
  sending, and again for every redirect hop;
- redirects are followed by us, hop by hop, so each hop is checked against that map and
  against the private-address rule: URLs found in fetched content (and any host other than
  the one the user configured) must not reach loopback, private, link-local or metadata
  addresses. Literal IPs are checked directly; names are checked by the resolver of a
  guarded session, on the addresses actually connected to (no DNS-rebinding gap).
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
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
from aiohttp.resolver import ThreadedResolver

from . import __version__
from .errors import FetchError
from .policy import DEFAULT_429_PAUSE, retry_after_seconds

CHUNK = 64 * 1024
MAX_REDIRECTS = 10
_REDIRECTS = (301, 302, 303, 307, 308)


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
    redirects: tuple[int, ...] = ()  # status of every redirect hop followed
    retry_after: int | None = None  # seconds the server asked us to wait (429/503)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def validators(self) -> Validators:
        return Validators(self.headers.get("etag"), self.headers.get("last-modified"))


class HostHeld(FetchError):
    """Nothing was sent: the host asked us (Retry-After) to wait until `until` (epoch s)."""

    def __init__(self, host: str, until: float):
        when = datetime.fromtimestamp(until, UTC).replace(microsecond=0).isoformat()
        super().__init__(
            f"not sent: {host} asked us to wait until {when} (Retry-After)", "held")
        self.host = host
        self.until = until


def default_user_agent(base_url: str = "") -> str:
    contact = f"; +{base_url}" if base_url else ""
    return f"aggregator/{__version__} (feed aggregator for local news{contact})"


def host_key(url: str) -> str:
    """The politeness unit: scheme-default port made explicit, so http://a and http://a:80
    are one host and 127.0.0.1:8001 and 127.0.0.1:8002 are two."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if parts.scheme.lower() == "https" else 80
    return f"{host}:{port}"


# -- private addresses -----------------------------------------------------------------------


def is_public_ip(value: str) -> bool:
    """False for loopback, private, link-local (169.254.169.254 metadata), CGNAT, multicast,
    reserved and unspecified addresses, IPv4-mapped IPv6 forms included."""
    try:
        addr = ipaddress.ip_address(value.split("%")[0].strip("[]"))
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address):
        mapped = addr.ipv4_mapped or addr.sixtofour
        if mapped is not None:
            addr = mapped
    return addr.is_global and not addr.is_multicast


def _literal_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%")[0].strip("[]"))
    except ValueError:
        return False
    return True


class PrivateAddressError(OSError):
    """A name resolved to a non-public address while private addresses are refused."""


class _PublicResolver(ThreadedResolver):
    """A resolver that only returns public addresses: the check is made on what is
    connected to, so a name that resolves differently the second time gains nothing."""

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        found = await super().resolve(host, port, family)
        public = [r for r in found if is_public_ip(str(r["host"]))]
        if not public:
            raise PrivateAddressError(f"{host} resolves to a private or local address")
        return public


def _refused(url: str) -> FetchError:
    return FetchError(
        f"refused to fetch {url}: it resolves to a private or local address "
        "(set allow_private = true on the source to permit it)",
        "private-address",
    )


# -- bodies ----------------------------------------------------------------------------------


class _Decoder:
    """Streaming gzip/deflate decoder that never produces more than `limit` bytes."""

    def __init__(self, encoding: str, limit: int):
        encoding = encoding.strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self._z: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj()
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
        # never inflate more than one byte past the cap: the caller sees it is over
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
        return out


@dataclass
class _Progress:
    """What one fetch got so far, for the message of a timeout."""

    url: str
    body_bytes: int = 0
    status: int | None = None


# -- the client ------------------------------------------------------------------------------


class Fetcher:
    """Owns the HTTP sessions, the per-host limits and holds; use as an async context manager."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        max_bytes: int = 10_000_000,
        user_agent: str | None = None,
        per_host: int = 2,
        concurrency: int = 64,
        read_timeout: float | None = None,
    ):
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        # a server silent this long mid-response has stalled; half the total by default
        self.read_timeout = read_timeout or max(min(timeout, connect_timeout), timeout / 2)
        self.max_bytes = max_bytes
        self.user_agent = user_agent or default_user_agent()
        self.per_host = per_host
        self.concurrency = concurrency
        self._session: aiohttp.ClientSession | None = None
        self._guarded: aiohttp.ClientSession | None = None
        self._host_limits: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(self.per_host)
        )
        self._not_before: dict[str, float] = {}  # host_key -> epoch seconds
        #: requests actually sent, per host (for tests, metrics and benchmarks)
        self.sent: dict[str, int] = defaultdict(int)

    def _new_session(self, resolver: aiohttp.abc.AbstractResolver | None) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=self.per_host,
                                         ttl_dns_cache=300, resolver=resolver)
        return aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            # the total is enforced over the whole redirect chain by get(), not per request
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=self.connect_timeout, sock_read=self.read_timeout
            ),
            headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"},
        )

    async def __aenter__(self) -> Fetcher:
        self._session = self._new_session(None)
        self._guarded = self._new_session(_PublicResolver())
        return self

    async def __aexit__(self, *exc: object) -> None:
        for session in (self._session, self._guarded):
            if session is not None:
                await session.close()
        self._session = self._guarded = None

    # -- holds (Retry-After) -------------------------------------------------------------------

    def hold(self, url_or_host: str, until: float) -> None:
        """Send nothing to this host before `until` (epoch seconds); a later hold wins."""
        host = host_key(url_or_host) if "/" in url_or_host else url_or_host
        if until > self._not_before.get(host, 0.0):
            self._not_before[host] = until

    def held_until(self, url: str) -> float | None:
        until = self._not_before.get(host_key(url))
        if until is None:
            return None
        if until <= time.time():
            self._not_before.pop(host_key(url), None)
            return None
        return until

    def _check_hold(self, url: str) -> None:
        until = self.held_until(url)
        if until is not None:
            raise HostHeld(host_key(url), until)

    # -- GET -------------------------------------------------------------------------------------

    async def get(
        self,
        url: str,
        *,
        validators: Validators | None = None,
        accept: str = "*/*",
        allow_private: bool = True,
        trusted_hosts: Collection[str] = (),
        allow_file: bool = True,
    ) -> Response:
        """GET one URL, following redirects hop by hop. Raises FetchError on any failure.

        `allow_private=False` refuses every hop that reaches a non-public address, except
        hosts in `trusted_hosts` (host_key form: the host the user configured); it is used
        for URLs found inside fetched content, which a hostile page could aim at us.
        `allow_file=False` refuses file:// URLs (a feed's link must never read our disk)."""
        scheme = urlsplit(url).scheme.lower()
        if scheme == "file":
            if not allow_file:
                raise FetchError(f"refused to read {url}: file URLs found in content are "
                                 "never read", "url")
            return await asyncio.to_thread(self._read_file, url, validators)
        assert self._session is not None, "use Fetcher as an async context manager"
        headers = {"Accept": accept}
        if validators and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        progress = _Progress(url)
        start = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                return await self._follow(url, headers, start, progress, allow_private,
                                          frozenset(trusted_hosts))
        except FetchError:
            raise
        except aiohttp.ConnectionTimeoutError:
            raise FetchError(
                f"connect timed out after {self.connect_timeout:g}s: "
                f"{host_key(progress.url)} did not answer", "connect-timeout") from None
        except aiohttp.SocketTimeoutError:
            raise FetchError(
                f"read timed out: no data for {self.read_timeout:g}s after "
                f"{progress.body_bytes:,} bytes (the server stalled mid-response)",
                "read-timeout") from None
        except TimeoutError:
            got = (f" ({progress.body_bytes:,} bytes of the body had arrived: "
                   "the body came too slowly)" if progress.body_bytes else "")
            raise FetchError(f"timed out after {self.timeout:g}s in total{got}",
                             "timeout") from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, PrivateAddressError):
                raise _refused(progress.url) from None
            raise FetchError(f"cannot connect: {exc.os_error or exc}", "connect") from None
        except aiohttp.ClientPayloadError as exc:
            raise FetchError(f"broken response body: {exc}", "payload") from None
        except aiohttp.ClientError as exc:
            raise FetchError(f"HTTP client error: {exc}", "client") from None
        except ValueError as exc:  # e.g. a Location that is not a URL
            raise FetchError(f"bad URL: {exc}", "url") from None

    async def _follow(self, url: str, headers: dict[str, str], start: float,
                      progress: _Progress, allow_private: bool,
                      trusted: frozenset[str]) -> Response:
        hops: list[int] = []
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            progress.url = current
            parts = urlsplit(current)
            if parts.scheme.lower() not in ("http", "https"):
                what = "redirected to" if hops else "unsupported URL scheme in"
                raise FetchError(f"{what} {current}: only http and https are fetched", "url")
            host = parts.hostname or ""
            if not host:
                raise FetchError(f"no host in URL {current}", "url")
            key = host_key(current)
            guarded = not allow_private and key not in trusted
            if guarded and _literal_ip(host) and not is_public_ip(host):
                raise _refused(current)
            session = self._guarded if guarded else self._session
            assert session is not None
            self._check_hold(current)
            async with self._host_limits[key]:
                # the hold may have been set while we waited for the slot
                self._check_hold(current)
                self.sent[key] += 1
                async with session.get(current, headers=headers,
                                       allow_redirects=False) as resp:
                    progress.status = resp.status
                    location = resp.headers.get("Location")
                    if resp.status in _REDIRECTS and location:
                        hops.append(resp.status)
                        current = urljoin(current, location.strip())
                        continue
                    return await self._response(url, resp, hops, start, progress)
        raise FetchError(f"too many redirects (over {MAX_REDIRECTS}) from {url}", "redirects")

    async def _response(self, url: str, resp: aiohttp.ClientResponse, hops: list[int],
                        start: float, progress: _Progress) -> Response:
        hdrs = {k.lower(): v for k, v in resp.headers.items()}
        final = str(resp.url)
        retry = None
        if resp.status in (429, 503):
            retry = retry_after_seconds(hdrs.get("retry-after"), datetime.now(UTC),
                                        hdrs.get("date"))
            if retry is None and resp.status == 429:
                retry = DEFAULT_429_PAUSE
            if retry:
                self.hold(final, time.time() + retry)
        body = b""
        wire = 0
        if resp.status != 304 and resp.status < 400:
            body, wire = await self._read_body(resp, hdrs.get("content-encoding", ""), progress)
        permanent = final if hops and all(h in (301, 308) for h in hops) else None
        return Response(
            url=url,
            final_url=final,
            status=resp.status,
            headers=hdrs,
            body=body,
            duration_ms=int((time.monotonic() - start) * 1000),
            wire_bytes=wire,
            permanent_redirect=permanent,
            redirects=tuple(hops),
            retry_after=retry,
        )

    async def _read_body(self, resp: aiohttp.ClientResponse, encoding: str,
                         progress: _Progress) -> tuple[bytes, int]:
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
            progress.body_bytes = wire
            if wire > self.max_bytes:
                # stop reading here: leaving the block closes the connection
                raise FetchError(f"body too large: over {self.max_bytes:,} bytes, "
                                 "stopped reading at the cap", "too-large")
            out = decoder.feed(chunk, produced)
            produced += len(out)
            if produced > self.max_bytes:
                raise FetchError(
                    f"body too large after decompression: over {self.max_bytes:,} bytes from "
                    f"{wire:,} compressed (a compression bomb?)", "too-large")
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
