"""The taxonomy file: the packaged one is complete and valid; a user's file is validated with
errors that name the file, the topic and the field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.errors import ConfigError
from aggregator.taxonomy import Taxonomy, load_taxonomy, normalise, parse_taxonomy

SEED_TOPICS = {
    "work-safety": "安全生产",
    "epidemic": "疫情防控",
    "petitions": "信访",
    "environment": "生态环境",
    "inspection-discipline": "巡察纪检",
    "party-building": "党建",
    "livelihood": "民生保障",
    "construction-projects": "城建与重点项目",
    "economy-investment": "招商与经济",
    "public-security": "公安与反诈",
    "health": "医疗卫生",
    "legislature": "人大政协",
    "urban-governance": "城市治理与文明创建",
}
LOCAL_TOPICS = {"education", "transport", "rural-revitalization", "culture-tourism"}

MINIMAL = """
[[topic]]
slug = "flood"
name = "防汛"
[topic.terms]
"防汛" = 5
"""


@pytest.fixture(scope="module")
def packaged() -> Taxonomy:
    return load_taxonomy()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "my-topics.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_packaged_taxonomy_has_the_seed_topics_with_their_names(packaged):
    assert {s: packaged.names[s] for s in SEED_TOPICS} == SEED_TOPICS


def test_packaged_taxonomy_covers_local_news_beyond_the_seed_topics(packaged):
    assert set(packaged.names) >= LOCAL_TOPICS
    assert "weather-disaster" in packaged.names


def test_packaged_topics_each_have_several_positive_terms(packaged):
    for topic in packaged.topics:
        assert len(topic.terms) >= 10, topic.slug
        assert all(w > 0 for _, w in topic.terms), topic.slug
        # A topic must be reachable by a strong term, not only by weak supporting ones.
        assert max(w for _, w in topic.terms) >= 4, topic.slug


def test_packaged_terms_are_stored_in_matching_form(packaged):
    for topic in packaged.topics:
        for term, _ in topic.terms + topic.negative:
            assert term == normalise(term), (topic.slug, term)


def test_taxonomy_is_frozen(packaged):
    with pytest.raises(dataclasses.FrozenInstanceError):
        packaged.topics = ()  # type: ignore[misc]


def test_unknown_reports_slugs_that_are_not_topics(packaged):
    assert packaged.unknown(["health", "helth", "work-safety", "x"]) == ["helth", "x"]


def test_user_file_is_loaded_instead_of_the_packaged_one(tmp_path):
    tax = load_taxonomy(write(tmp_path, MINIMAL))
    assert tax.names == {"flood": "防汛"}
    assert tax.source.endswith("my-topics.toml")
    assert tax.get("flood").terms == (("防汛", 5.0),)


def test_scoring_settings_are_read_from_the_file(tmp_path):
    tax = load_taxonomy(write(tmp_path, "[scoring]\nthreshold = 9\nmax_topics = 2\n" + MINIMAL))
    assert tax.scoring.threshold == 9.0
    assert tax.scoring.max_topics == 2


def test_index_matches_traditional_spellings(packaged):
    auto = packaged.index.automaton
    assert auto.get("安全生产")[0] == "安全生产"
    assert auto.get("安全生產")[0] == "安全生产"  # s2t / s2hk
    assert auto.get("電信網絡詐騙")[0] == "电信网络诈骗"


def test_traditional_matching_can_be_switched_off(tmp_path):
    tax = load_taxonomy(write(tmp_path, "[matching]\ntraditional = false\n" + MINIMAL))
    assert tax.index.automaton.get("防汛", None) is not None
    assert tax.index.automaton.get("防洪", None) is None


def test_normalise_removes_line_breaks_quotes_and_folds_width():
    assert normalise("安全\n生产") == "安全生产"
    assert normalise("村“两委”换届") == "村两委换届"
    assert normalise("ＰＭ２．５ 浓度") == "pm2.5浓度"
    assert normalise("《安全生产法》") == "安全生产法"


@given(st.text())
def test_normalise_is_idempotent_and_leaves_no_whitespace(text):
    once = normalise(text)
    assert normalise(once) == once
    assert not any(c.isspace() for c in once)


# ------------------------------------------------------------------ validation errors


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("[[topic]\nslug=", "not valid TOML"),
        ("version = 1\n", "no topics"),
        ("version = 2\n" + MINIMAL, "field 'version'"),
        ("colour = 1\n" + MINIMAL, "unknown field 'colour'"),
        (MINIMAL.replace('slug = "flood"', 'slug = "Flood Control"'), "field 'slug'"),
        (MINIMAL.replace('name = "防汛"\n', ""), "topic #1 ('flood') field 'name'"),
        (MINIMAL.replace('"防汛" = 5', '"防汛" = "high"'), "field 'terms': weight of '防汛'"),
        (MINIMAL.replace('"防汛" = 5', '"防汛" = -1'), "field 'terms': weight of '防汛'"),
        (MINIMAL.replace('"防汛" = 5', '"防汛" = 0'), "field 'terms': weight of '防汛'"),
        (MINIMAL.replace('"防汛" = 5', '" " = 1'), "empty once spaces"),
        (MINIMAL.replace('"防汛" = 5', '"防 汛" = 1\n"防汛" = 2'), "listed twice"),
        (MINIMAL.replace('"防汛" = 5', ""), "at least one term"),
        (MINIMAL + '[topic.negative]\n"防汛" = 1\n', "both in 'terms' and in 'negative'"),
        (MINIMAL.replace('name = "防汛"', 'name = "防汛"\nrequires = "水"'), "field 'requires'"),
        (MINIMAL.replace('name = "防汛"', 'name = "防汛"\ncolor = "red"'), "unknown field 'color'"),
        (MINIMAL + MINIMAL, "'flood' is already used by topic #1"),
        ("[scoring]\nthreshold = 0\n" + MINIMAL, "[scoring] field 'threshold'"),
        ("[scoring]\nrelative = 1.5\n" + MINIMAL, "[scoring] field 'relative'"),
        ("[scoring]\nmax_topics = 2.5\n" + MINIMAL, "[scoring] field 'max_topics'"),
        ("[scoring]\nthreshhold = 3\n" + MINIMAL, "unknown field 'threshhold'"),
        ('[matching]\nignore = "x"\n' + MINIMAL, "[matching] field 'ignore'"),
        ("[matching]\ntraditional = 1\n" + MINIMAL, "field 'traditional'"),
    ],
)
def test_bad_files_raise_config_error_naming_file_and_field(tmp_path, text, expect):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_taxonomy(path)
    message = str(err.value)
    assert str(path) in message
    assert expect in message


def test_second_topic_error_names_that_topic(tmp_path):
    second = MINIMAL.replace("flood", "drought").replace('"防汛" = 5', '"抗旱" = true')
    with pytest.raises(ConfigError, match=r"topic #2 \('drought'\) field 'terms'"):
        load_taxonomy(write(tmp_path, MINIMAL + second))


def test_missing_file_raises_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_taxonomy(tmp_path / "absent.toml")


def test_parse_taxonomy_names_its_source():
    with pytest.raises(ConfigError, match="^inline: "):
        parse_taxonomy("x = [", source="inline")
