"""Source definitions and settings: validation errors name file, source and field."""

from __future__ import annotations

import pytest

from aggregator.errors import ConfigError
from aggregator.settings import load_config
from aggregator.sources import load_file, parse_interval


def write(tmp_path, text: str):
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
[[source]]
id = "wujin"
name = "武进日报"
url = "samples/wujin.xml"
kind = "feed"
region = "320412"
topics = ["work-safety"]
interval = "30m"
priority = 5
[source.options]
max_articles = 10
"""


def test_valid_source_and_relative_path(tmp_path):
    (s,) = load_file(write(tmp_path, GOOD))
    assert (s.id, s.name, s.kind, s.region, s.topics, s.interval, s.priority) == (
        "wujin",
        "武进日报",
        "feed",
        "320412",
        ("work-safety",),
        1800,
        5,
    )
    assert s.url == (tmp_path / "samples" / "wujin.xml").resolve().as_uri()
    assert s.options == {"max_articles": 10}


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("interval", '"soon"', "duration"),
        ("interval", "5", "between"),
        ("kind", '"rss"', "one of"),
        ("region", '"320"', "division code"),
        ("topics", '"work-safety"', "list"),
        ("enabled", '"yes"', "true or false"),
        ("colour", '"red"', "unknown field"),
    ],
)
def test_errors_name_file_source_and_field(tmp_path, field, value, words):
    text = "\n".join(line for line in GOOD.splitlines() if not line.startswith(f"{field} ="))
    text = text.replace("[source.options]", f"{field} = {value}\n[source.options]")
    with pytest.raises(ConfigError) as exc:
        load_file(write(tmp_path, text))
    message = str(exc.value)
    assert "s.toml" in message and "'wujin'" in message and words in message
    if field != "colour":
        assert f"'{field}'" in message


def test_bad_id_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="field 'id'"):
        load_file(write(tmp_path, GOOD.replace('id = "wujin"', 'id = "Wu Jin"')))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_file(write(tmp_path, "[[source]\nid="))


@pytest.mark.parametrize(
    "value, seconds",
    [(3600, 3600), ("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400), ("1.5h", 5400)],
)
def test_intervals(value, seconds):
    assert parse_interval(value) == seconds


def test_settings_precedence(tmp_path):
    cfg = tmp_path / "aggregator.toml"
    cfg.write_text('port = 9000\nfeed_size = 20\ndb = "x.db"\n', encoding="utf-8")
    c = load_config(str(cfg), {"feed_size": None}, env={"AGGREGATOR_PORT": "9100"})
    assert c.port == 9100  # env beats file
    assert c.feed_size == 20  # file beats default
    assert c.db == str(tmp_path / "x.db")  # relative to the config file
    c = load_config(str(cfg), {"port": 9200}, env={"AGGREGATOR_PORT": "9100"})
    assert c.port == 9200  # flag beats env


def test_settings_errors(tmp_path):
    cfg = tmp_path / "aggregator.toml"
    cfg.write_text("prot = 9000\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting 'prot'"):
        load_config(str(cfg), env={})
    with pytest.raises(ConfigError, match="AGGREGATOR_PORT"):
        load_config(None, env={"AGGREGATOR_PORT": "eighty"})
