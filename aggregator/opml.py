"""OPML import: every feed of an OPML file becomes a `[[source]]` table in a TOML file.

The TOML files stay the one place sources are defined, so an import is visible, editable
and survives a restart like any hand-written source.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from .errors import ConfigError, FetchError
from .render import parse_opml
from .settings import Config
from .sources import load_sources, source_files


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return s[:48] or "feed"


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


async def read_location(config: Config, location: str) -> bytes:
    if re.match(r"^https?://", location):
        from .daemon import make_fetcher

        async with make_fetcher(config) as fetcher:
            resp = await fetcher.get(location)
        if resp.status != 200:
            raise FetchError(f"{location}: HTTP {resp.status}", "http", resp.status)
        return resp.body
    try:
        return Path(location).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {location}: {exc.strerror}") from None


async def import_opml(config: Config, location: str, target: str | None) -> list[str]:
    """Append the OPML's feeds that are not yet defined; returns the new source ids."""
    feeds = parse_opml(await read_location(config, location))
    existing = load_sources(source_files(config.feeds))
    urls = {s.url for s in existing}
    ids = {s.id for s in existing}
    feeds_dir = Path(config.feeds) if Path(config.feeds).is_dir() else Path(config.feeds).parent
    path = Path(target) if target else feeds_dir / "imported.toml"
    blocks = []
    added = []
    for title, xml_url, _html_url in feeds:
        if not xml_url or xml_url in urls:
            continue
        base = slug(title) if re.search(r"[a-zA-Z0-9]", title or "") else slug(
            urlsplit(xml_url).hostname or "feed")
        sid, n = base, 2
        while sid in ids:
            sid, n = f"{base}-{n}", n + 1
        ids.add(sid)
        urls.add(xml_url)
        added.append(sid)
        blocks.append(
            f"\n[[source]]\nid = {_toml_str(sid)}\nname = {_toml_str(title or sid)}\n"
            f"url = {_toml_str(xml_url)}\nkind = \"feed\"\ninterval = \"1h\"\nenabled = true\n"
        )
    if blocks:
        path.parent.mkdir(parents=True, exist_ok=True)
        header = "" if path.exists() else "# Sources imported from OPML (aggregator opml import).\n"
        with path.open("a", encoding="utf-8") as fh:
            fh.write(header + "".join(blocks))
        load_sources([path])  # the file must still validate
    return added
