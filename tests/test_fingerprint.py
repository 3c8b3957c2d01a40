"""fingerprint: MinHash signatures, LSH band keys, similarity estimates, number contexts."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator import fingerprint as fp
from aggregator.errors import AggregatorError
from aggregator.normalise import fold, numbers_in_context, prepare

ROOT = Path(__file__).resolve().parents[1]

# Self-written sentences; random sequences of them make texts with a known overlap.
SENTENCES = [
    "青溪镇中心河上的老石桥日前完成结构加固",
    "经第三方检测合格将于下月初恢复车辆和行人通行",
    "这座石桥建于清代全长四十余米是镇区南北两岸往来的主要通道",
    "去年汛期过后镇里在例行巡查中发现桥墩出现裂缝",
    "施工期间工程队对桥墩进行灌浆补强更换了部分风化严重的栏板",
    "为方便群众出行镇里在上游临时搭建了一座便桥",
    "山前村的果园里一片忙碌景象村民们穿梭在果架之间",
    "合作社负责人说今年雨水调和果子个头大糖度高",
    "村里的年轻人当起了主播每天在果园里直播采摘过程",
    "城东社区书屋延长开放时间每天晚上开放到九点半",
    "社区招募了一批志愿者轮流值守负责图书整理和借阅登记",
    "改造后的市场地面干净整洁摊位排列整齐分区经营",
    "市场在入口处设置了农产品快速检测室每天抽检上市蔬菜",
    "交警部门提醒滨江路将从明天起每晚实施封闭施工",
    "东湖工业园区一间仓库今日凌晨起火火势约一小时后被扑灭",
    "当地农业部门表示将继续支持村里改良品种建设冷库",
]


def text_of(indices) -> str:
    return "".join(SENTENCES[i] for i in indices)


def sig(text: str) -> fp.Signature:
    prepared = prepare(text)
    return fp.signature(prepared.text, prepared.numbers)


def exact_jaccard(a: str, b: str) -> float:
    ga, gb = set(fp.shingles(a)), set(fp.shingles(b))
    return len(ga & gb) / len(ga | gb)


def test_identical_texts_have_identical_signatures_and_keys() -> None:
    a, b = sig(text_of(range(8))), sig(text_of(range(8)))
    assert a == b
    assert fp.jaccard(a, b) == 1.0
    assert fp.band_keys(a) == fp.band_keys(b)
    assert len(fp.band_keys(a)) == fp.BANDS
    assert sorted(fp.band_of(k) for k in fp.band_keys(a)) == list(range(fp.BANDS))


def test_jaccard_estimate_tracks_the_exact_value() -> None:
    rng = random.Random(5)
    errors = []
    for _ in range(40):
        base = rng.sample(range(len(SENTENCES)), 10)
        other = base[: rng.randint(3, 10)] + rng.sample(range(len(SENTENCES)), 3)
        a, b = text_of(base), text_of(other)
        errors.append(abs(fp.jaccard(sig(a), sig(b)) - exact_jaccard(a, b)))
    # 128 values: standard error at most 0.044; the mean error is far smaller than that.
    assert sum(errors) / len(errors) < 0.05
    assert max(errors) < 0.16


def test_containment_of_an_abridged_copy_is_near_one_while_jaccard_is_not() -> None:
    full = text_of(range(12))
    abridged = text_of([0, 1, 2, 4, 5, 7, 8])
    j = fp.jaccard(sig(full), sig(abridged))
    assert j < 0.75
    assert fp.containment(sig(full), sig(abridged)) > 0.85


def test_similar_texts_share_a_band_and_unrelated_ones_do_not() -> None:
    a = sig(text_of(range(10)))
    near = sig(text_of([*range(9), 12]))
    far = sig(text_of(range(10, 16)) + "完全不同的另一篇稿件内容")
    assert set(fp.band_keys(a)) & set(fp.band_keys(near))
    assert not set(fp.band_keys(a)) & set(fp.band_keys(far))


def test_empty_text_has_no_keys_and_resembles_nothing() -> None:
    empty = sig("")
    assert empty.empty
    assert fp.band_keys(empty) == ()
    assert fp.jaccard(empty, empty) == 0.0
    assert fp.containment(empty, sig(text_of(range(3)))) == 0.0


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_signature_round_trips_through_bytes(text: str) -> None:
    s = sig(text)
    assert fp.Signature.from_bytes(s.to_bytes()) == s


def test_a_signature_from_another_format_is_refused() -> None:
    data = bytearray(sig(text_of(range(4))).to_bytes())
    with pytest.raises(AggregatorError):
        fp.Signature.from_bytes(bytes(data[:40]))
    data[0] = 99
    with pytest.raises(AggregatorError, match="re-index"):
        fp.Signature.from_bytes(bytes(data))


def test_signatures_are_the_same_in_another_process() -> None:
    """Stored signatures must stay comparable after a restart: no per-process hash seed."""
    text = text_of(range(9))
    code = (
        "import sys; from aggregator.fingerprint import signature;"
        "from aggregator.normalise import prepare;"
        "p = prepare(sys.argv[1]); sys.stdout.write(signature(p.text, p.numbers).to_bytes().hex())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, text], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert bytes.fromhex(out.stdout) == sig(text).to_bytes()


def test_number_contexts_tell_templated_reports_apart() -> None:
    report = "全市报告流感样病例312例，其中确诊甲型流感47例。累计报告4215例。"
    other_day = "全市报告流感样病例298例，其中确诊甲型流感51例。累计报告4513例。"
    reprint = "据通报，全市报告流感样病例312例，其中确诊甲型流感47例。"
    agree, conflict = fp.number_agreement(sig(report), sig(other_day))
    assert (agree, conflict) == (0, 3)
    agree, conflict = fp.number_agreement(sig(report), sig(reprint))
    assert conflict == 0 and agree == 2


def test_number_keys_ignore_leading_zeros_and_thousands_separators() -> None:
    a = fp.signature("x", numbers_in_context(fold("共1,234人，编号007号")))
    b = fp.signature("x", numbers_in_context(fold("共1234人，编号7号")))
    assert a.numbers == b.numbers


def test_title_similarity_and_title_keys() -> None:
    a, b = "芬兰总统斯图布下周国事访问中国四天", "芬兰总统下周应邀国事访华"
    assert 0.2 < fp.title_similarity(a, b) < 1.0
    assert fp.title_similarity(a, a) == 1.0
    assert set(fp.title_keys(a)) & set(fp.title_keys(b))
    assert len(fp.title_keys(a)) == fp.TITLE_KEYS


def test_passage_keys_survive_dropping_some_sentences() -> None:
    full = [s for s in SENTENCES[:12]]
    kept = full[::2] + full[1:4]
    assert set(fp.passage_keys(full)) & set(fp.passage_keys(kept))
    assert fp.passage_keys(["太短的句子"]) == ()
