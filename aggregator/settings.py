"""Settings in one place: each with a default and a help line, read from TOML, env and flags.

Precedence: command-line flag > environment variable (AGGREGATOR_<NAME>) > config file
(`--config`, env AGGREGATOR_CONFIG, else ./aggregator.toml when present) > default. The same
table documents every setting in `aggregator config` and in the README.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str

    @property
    def env(self) -> str:
        return "AGGREGATOR_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("db", "data/aggregator.db", "SQLite database file (created if missing)"),
    Setting("feeds", "feeds", "directory (or glob) of source definitions, *.toml"),
    Setting("host", "127.0.0.1", "address the server listens on"),
    Setting("port", 8080, "port the server listens on"),
    Setting("base_url", "", "public URL of the server, for feed links (default http://host:port/)"),
    Setting("concurrency", 16, "polls running at once, across all sources"),
    Setting("per_host", 2, "requests running at once to one host"),
    Setting("timeout", 30.0, "total seconds allowed for one fetch"),
    Setting("connect_timeout", 10.0, "seconds allowed to connect"),
    Setting("max_bytes", 10_000_000, "largest response body read, in bytes (also after gzip)"),
    Setting("user_agent", "", "User-Agent header (default: aggregator/VERSION (+base_url))"),
    Setting("jitter", 0.1, "random share of the interval added to each poll time"),
    Setting("feed_size", 50, "entries per archive page; subscription feeds keep feed_size to "
                             "2×feed_size−1 entries not yet archived"),
    Setting("hub_url", "", "WebSub hub the feeds advertise: empty = the built-in hub at "
                           "<base_url>websub; a URL = an external hub (pinged on changes); "
                           "off = none"),
    Setting("websub_allow_private", False, "allow WebSub callbacks on loopback or private "
                                           "addresses (tests, intranets)"),
    Setting("shutdown_grace", 10.0, "seconds in-flight polls may take to finish on stop"),
    Setting("topics", "", "topic taxonomy TOML (default: the packaged one)"),
    Setting("poll_on_start", True, "poll every due source as soon as the daemon starts"),
    Setting("log_level", "INFO", "DEBUG, INFO, WARNING or ERROR"),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Config:
    db: str
    feeds: str
    host: str
    port: int
    base_url: str
    concurrency: int
    per_host: int
    timeout: float
    connect_timeout: float
    max_bytes: int
    user_agent: str
    jitter: float
    feed_size: int
    hub_url: str
    websub_allow_private: bool
    shutdown_grace: float
    topics: str
    poll_on_start: bool
    log_level: str
    config_file: str | None = None

    @property
    def public_url(self) -> str:
        url = self.base_url or f"http://{self.host}:{self.port}/"
        return url if url.endswith("/") else url + "/"


def _coerce(setting: Setting, value: Any, origin: str) -> Any:
    kind = type(setting.default)
    try:
        if kind is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                    raise ValueError(value)
                return low in {"1", "true", "yes", "on"}
            return bool(value)
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{origin}: setting '{setting.name}' must be a {kind.__name__}, got {value!r}"
        ) from None


def load_config(
    config_path: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    """Build the effective configuration; errors name the file or variable and the setting."""
    env = os.environ if env is None else env
    values = {s.name: s.default for s in SETTINGS}
    path = config_path or env.get("AGGREGATOR_CONFIG")
    if not path and Path("aggregator.toml").is_file():
        path = "aggregator.toml"
    base_dir = Path(".")
    if path:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {p} not found; pass an existing --config") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML: {exc}") from None
        data = data.get("aggregator", data)
        base_dir = p.parent
        for key, value in data.items():
            if key not in _BY_NAME:
                raise ConfigError(
                    f"{p}: unknown setting '{key}'; known: {', '.join(sorted(_BY_NAME))}"
                )
            values[key] = _coerce(_BY_NAME[key], value, str(p))
        # paths in a config file are relative to the file
        for key in ("db", "feeds", "topics"):
            if key in data and values[key] and not Path(values[key]).is_absolute():
                values[key] = str(base_dir / values[key])
    for s in SETTINGS:
        if s.env in env and env[s.env] != "":
            values[s.name] = _coerce(s, env[s.env], f"environment variable {s.env}")
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _coerce(_BY_NAME[key], value, f"option --{key.replace('_', '-')}")
    names = {f.name for f in fields(Config)} - {"config_file"}
    return Config(**{k: values[k] for k in names}, config_file=path)


def describe() -> str:
    """Every setting with its default, env variable and help, for `aggregator config`."""
    lines = []
    for s in SETTINGS:
        lines.append(f"{s.name} = {s.default!r}\n    {s.help}\n    env: {s.env}")
    return "\n".join(lines)
