"""Source definitions: `feeds/*.toml`, one `[[source]]` table per source, validated.

Errors name the file, the source and the field, and say what a valid value looks like, so a
user editing TOML by hand finds the mistake at once. Relative paths in `url` (for local
samples, e-paper text files and post folders) are taken relative to the TOML file.
"""

from __future__ import annotations

import glob
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .model import KINDS, SourceDef

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_REGION = re.compile(r"^(\d{6}|\d{9}|\d{12}|Z[0-9A-Za-z-]+)$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_FIELDS = {
    "id", "name", "url", "kind", "region", "topics", "interval", "enabled", "priority",
    "allow_private", "full_text", "options",
}
MIN_INTERVAL = 60
MAX_INTERVAL = 7 * 86400


def parse_interval(value: Any) -> int:
    """Seconds from 3600, "90s", "30m", "2h" or "1d"."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return int(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(value)
    return int(float(m.group(1)) * _UNITS[m.group(2)])


def _local_url(url: str, base: Path) -> str:
    """A URL as given, or a path relative to the TOML file made into a file:// URL."""
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", url):
        return url
    path = Path(url)
    if not path.is_absolute():
        path = base / path
    return path.resolve().as_uri() if not any(c in url for c in "*?[") else "file://" + str(
        base.resolve() / url
    )


def parse_source(table: dict[str, Any], *, file: str, index: int) -> SourceDef:
    """One validated SourceDef from one TOML table."""
    where = f"{file}: source #{index + 1}"
    sid = table.get("id")
    if not isinstance(sid, str) or not _ID.match(sid):
        raise ConfigError(
            f"{where}: field 'id' must be lower-case letters, digits, '-' or '_' (got {sid!r})"
        )
    where = f"{file}: source '{sid}'"

    def fail(field: str, expected: str) -> ConfigError:
        return ConfigError(f"{where}: field '{field}' {expected} (got {table.get(field)!r})")

    unknown = set(table) - _FIELDS
    if unknown:
        raise ConfigError(
            f"{where}: unknown field(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(_FIELDS))}"
        )
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail("name", "must be the outlet's name, e.g. \"常州日报\"")
    url = table.get("url")
    if not isinstance(url, str) or not url.strip():
        raise fail("url", "must be a URL (https://…, file://…) or a path relative to the file")
    kind = table.get("kind", "feed")
    if kind not in KINDS:
        raise fail("kind", f"must be one of {', '.join(KINDS)}")
    region = table.get("region")
    if region is not None and (not isinstance(region, str) or not _REGION.match(region)):
        raise fail("region", 'must be a division code such as "320412" (or a Z… zone id)')
    topics = table.get("topics", [])
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise fail("topics", 'must be a list of topic slugs, e.g. ["work-safety"]')
    try:
        interval = parse_interval(table.get("interval", 3600))
    except ValueError:
        raise fail("interval", 'must be seconds or a duration like "30m", "2h", "1d"') from None
    if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise fail("interval", f"must be between {MIN_INTERVAL}s and 7 days")
    for flag in ("enabled", "allow_private", "full_text"):
        if flag in table and not isinstance(table[flag], bool):
            raise fail(flag, "must be true or false")
    priority = table.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise fail("priority", "must be an integer (higher wins ties)")
    options = table.get("options", {})
    if not isinstance(options, dict):
        raise fail("options", "must be a table ([source.options])")
    return SourceDef(
        id=sid,
        name=name.strip(),
        url=_local_url(url.strip(), Path(file).parent),
        kind=kind,
        region=region,
        topics=tuple(topics),
        interval=interval,
        enabled=table.get("enabled", True),
        priority=priority,
        allow_private=table.get("allow_private", False),
        full_text=table.get("full_text", False),
        options=options,
        file=file,
    )


def load_file(path: Path) -> list[SourceDef]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    tables = data.get("source", [])
    if not isinstance(tables, list):
        raise ConfigError(f"{path}: sources must be written as [[source]] tables")
    return [parse_source(t, file=str(path), index=i) for i, t in enumerate(tables)]


def source_files(spec: str) -> list[Path]:
    """The TOML files a `feeds` setting names: a directory (its *.toml), a file, or a glob."""
    p = Path(spec)
    if p.is_dir():
        return sorted(p.glob("*.toml"))
    if p.is_file():
        return [p]
    return sorted(Path(x) for x in glob.glob(spec))


def load_sources(paths: Iterable[Path]) -> list[SourceDef]:
    """Every source of these files; ids must be unique across all of them."""
    seen: dict[str, str] = {}
    out = []
    for path in paths:
        for s in load_file(Path(path)):
            if s.id in seen:
                raise ConfigError(f"{path}: source id '{s.id}' is already defined in {seen[s.id]}")
            seen[s.id] = str(path)
            out.append(s)
    return out
