"""normalise: what fingerprinting sees of a text. Furniture goes, the story stays, digits stay."""

from __future__ import annotations

import re

import opencc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.normalise import (
    fold,
    normalise,
    normalise_title,
    numbers_in_context,
    prepare,
    sentences,
    strip_furniture,
)

STORY = (
    "青溪镇中心河上的老石桥日前完成结构加固，经第三方检测合格，将于下月初恢复通行。\n\n"
    "这座石桥建于清代，全长四十余米，是镇区南北两岸往来的主要通道。\n\n"
    "镇建设办负责人介绍，石桥恢复通行后，将限制重型货车通过。"
)


def bare() -> str:
    return normalise(STORY)


@pytest.mark.parametrize(
    "lead",
    [
        "本报讯（记者 顾明远 通讯员 沈一鸣）",
        "新华社南京10月19日电（记者王小川、李青）",
        "新华社南京10月19日电　",
        "本报常州10月19日电  （记者张三）",
        "央视网消息（新闻联播）：",
        "(澳門電台消息) ",
        "央广网成都5月18日消息（记者 刘洋）：",
        "中新网上海3月5日电 ",
        "据新华社堪培拉7月4日电  （记者岳东兴）",
    ],
)
def test_bylines_and_datelines_are_stripped(lead: str) -> None:
    assert normalise(lead + STORY) == bare()


@pytest.mark.parametrize(
    "tail",
    [
        "（完）",
        "\n\n责任编辑：王五",
        "\n\n【责任编辑：王五】",
        "\n\n编辑：赵六  审核：钱七",
        "\n\n版式设计：孙八",
        "\n\n·周九·",
        " (梁婉琦   謝娜娜)",
        "(特約記者潘泳雯在新加坡報道)",
        "\n\n（新华社缅甸蒲甘7月4日电）",
        "\n\n来源：新华社",
        "\n\n□本报记者 吴十 郑一",
    ],
)
def test_signatures_editor_lines_and_credits_are_stripped(tail: str) -> None:
    assert normalise(STORY + tail) == bare()


def test_page_break_markers_and_photo_captions_are_stripped() -> None:
    pars = STORY.split("\n\n")
    marked = (
        f"{pars[0]}（下转第2版）\n\n（上接第1版）{pars[1]}\n\n"
        "市民在石桥上散步(2024年10月18日摄)。新华社记者 杨磊 摄\n\n"
        "下转第4版\n\n"
        f"{pars[2]}\n\n苗秋闹摄（新华社发）"
    )
    assert normalise(marked) == bare()


def test_width_script_and_case_fold_away() -> None:
    half = STORY.replace("，", ",").replace("。", ".").replace("：", ":")
    assert normalise(half) == bare()
    for config in ("s2t", "s2hk", "s2tw"):
        assert normalise(opencc.OpenCC(config).convert(STORY)) == bare()
    assert normalise("ＡＢＣ　１２３ abc") == "abc123abc"


def test_digits_are_kept_so_templated_reports_differ() -> None:
    a = "全市今日新增病例3例，累计125例。"
    b = "全市今日新增病例5例，累计127例。"
    assert normalise(a) != normalise(b)
    assert re.sub(r"\d", "", normalise(a)) == re.sub(r"\d", "", normalise(b))


def test_body_sentences_that_look_like_furniture_are_kept() -> None:
    for text in (
        "记者从国家邮政局获悉，全国已建成村级寄递物流综合服务站。",
        "中国消息人士说，会谈取得积极成果。",
        "他表示，这张照片由他本人拍摄。",
        "新华社记者在现场看到，救援工作仍在进行。",
    ):
        assert normalise(text) == re.sub(r"[\W_]", "", fold(text))


def test_strip_furniture_keeps_paragraphs() -> None:
    out = strip_furniture(fold("本报讯（记者 甲乙）第一段。\n\n第二段。\n\n（完）"))
    assert out.split("\n") == ["第一段。", "第二段。"]


def test_titles_drop_column_tags_and_punctuation() -> None:
    assert normalise_title("【走进县城看发展】广西兴安：突出优势特色") == normalise_title(
        "廣西興安 突出優勢特色"
    )


def test_numbers_in_context_stay_inside_their_clause() -> None:
    found = numbers_in_context(
        fold("香港天文台表示，將在明日 (25日) 凌晨 1時 40分發出信號。共1,234人。")
    )
    assert ("凌晨", "1", "时") in found
    assert ("时", "40", "分发") in found
    assert ("共", "1234", "人") in found
    # A context never reaches across a full stop into the next sentence.
    assert all("。" not in before + after for before, _n, after in found)


def test_prepare_agrees_with_normalise_and_splits_sentences() -> None:
    prepared = prepare(STORY)
    assert prepared.text == normalise(STORY)
    assert "".join(prepared.sentences) == prepared.text
    assert len(prepared.sentences) == 3
    assert sentences(fold("甲。乙！丙？")) == ["甲", "乙", "丙"]


CJKISH = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF),
        st.sampled_from(
            list("（）()【】：:，,。.·•　 \n摄电讯消息记者编辑第版下转上接0123456789１２３")
        ),
        st.characters(),
    ),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(CJKISH)
def test_normalise_is_idempotent_and_total(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert re.fullmatch(r"[^\W_]*", once)


@settings(max_examples=200, deadline=None)
@given(CJKISH)
def test_normalise_title_is_idempotent(text: str) -> None:
    once = normalise_title(text)
    assert normalise_title(once) == once


@settings(max_examples=200, deadline=None)
@given(CJKISH)
def test_prepare_never_raises_and_matches_normalise(text: str) -> None:
    prepared = prepare(text)
    assert prepared.text == normalise(text)
    for before, digits, after in prepared.numbers:
        assert digits[0].isdigit() and not any(c.isdigit() for c in before + after)


# -- skipping OpenCC on texts it cannot change -------------------------------------------------


def _hk2s_tables() -> dict[str, str]:
    """Every key of the dictionaries hk2s uses, with its first candidate, dumped to text by the
    opencc_dict tool that ships inside the opencc wheel (skips when it is not there)."""
    import json
    import subprocess
    import tempfile
    from pathlib import Path

    root = Path(opencc.__file__).parent / "clib"
    tool, share = root / "bin" / "opencc_dict", root / "share" / "opencc"
    if not tool.exists() or not (share / "hk2s.json").exists():
        pytest.skip("opencc_dict or the hk2s tables are not shipped with this opencc")
    config = json.loads((share / "hk2s.json").read_text(encoding="utf-8"))
    files: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.add(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    table: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(files):
            out = Path(tmp) / (name + ".txt")
            subprocess.run([str(tool), "-i", str(share / name), "-o", str(out), "-f", "ocd2",
                            "-t", "text"], check=True, capture_output=True, timeout=30)
            for line in out.read_text(encoding="utf-8").splitlines():
                key, _, values = line.partition("\t")
                table.setdefault(key, values.split(" ")[0])
    assert len(table) > 5000
    return table


def test_opencc_is_skipped_only_where_it_would_change_nothing() -> None:
    """Every phrase and character of hk2s's tables that OpenCC changes, and every spelling of
    it through the characters that hk2s maps away and back (台 → 臺 → 台), is caught."""
    import itertools

    from aggregator.normalise import may_convert

    convert = opencc.OpenCC("hk2s").convert
    table = _hk2s_tables()
    back = {v: k for k, v in table.items() if len(k) == 1 and v != k and convert(k) == k}
    texts: set[str] = set(table.values())
    for key in table:
        options = [(c, back[c]) if c in back else (c,) for c in key]
        texts.update("".join(p) for p in itertools.islice(itertools.product(*options), 64))
    missed = sorted(t for t in texts if convert(t) != t and not may_convert(t))
    assert missed == []


def test_fold_agrees_with_opencc_on_simplified_and_traditional_text() -> None:
    from aggregator import normalise as module

    convert = opencc.OpenCC("hk2s").convert
    texts = (STORY, opencc.OpenCC("s2hk").convert(STORY), "他说明瞭解决办法，回覆了来信。",
             "沈阳市委书记", "深沈的夜", "𠀀字与台风", "ABC 台湾")
    for text in texts:
        # fold as it was before the skip: OpenCC on every text
        always = module._FOLD_RE.sub(lambda m: module._FOLD[m.group()],
                                     convert(module._nfkc(text)))
        lowered = always.casefold()
        assert fold(text) == (always if lowered == always else module._nfkc(lowered))
