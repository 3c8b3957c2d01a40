"""Bylines, signatures and photo credits: the shapes that name people, and sentences that don't."""

from __future__ import annotations

import pytest

from aggregator.bylines import byline, parse_people, photo_credit, split_lead, trailing_byline


@pytest.mark.parametrize(
    ("text", "people", "rest"),
    [
        ("本报讯(记者 周晓青)昨天,市委常委……", ("周晓青",), "昨天,市委常委……"),
        ("本报讯（记者 杨志伟 通讯员 许俊峰）近期，", ("杨志伟", "许俊峰"), "近期，"),
        ("本报讯(记者吴云清) 3月7日下午，", ("吴云清",), "3月7日下午，"),
        ("新华社北京3月8日电（记者 张三、李四）今天", ("张三", "李四"), "今天"),
        ("本报讯 为方便上班族就医，", (), "为方便上班族就医，"),
        ("（记者 林涛）6月1日，", ("林涛",), "6月1日，"),
        ("本报讯 记者 何静 通讯员 赵一鸣 日前，", ("何静", "赵一鸣"), "日前，"),
        ("本报讯 记者张三 通讯员李四 报道：近日，", ("张三", "李四"), "近日，"),
        ("本报讯 记者 应 晖 “装电梯是好事", ("应晖",), "“装电梯是好事"),
        ("本报乌鲁木齐5月19日电 记者 孟凡 报道：记者从", ("孟凡",), "记者从"),
        ("本报合肥18日电 在辽阔的淮北平原上", (), "在辽阔的淮北平原上"),
        ("据新华社北京5月19日电 暑期临近，", (), "暑期临近，"),
        ("本报讯（融媒体记者 龚一帆）3月4日，", ("龚一帆",), "3月4日，"),
        (
            "华声在线7月6日讯（文/视频 全媒体记者 王智芳 实习生 罗斯妮）7月3日，",
            ("王智芳", "罗斯妮"),
            "7月3日，",
        ),
        (
            "浙江在线-杭州频道11月8日讯（浙江在线记者 霍翟羿 通讯员 吴艇）记者",
            ("霍翟羿", "吴艇"),
            "记者",
        ),
    ],
)
def test_split_lead(text: str, people: tuple[str, ...], rest: str) -> None:
    assert split_lead(text) == (people, rest)


@pytest.mark.parametrize(
    "text",
    [
        "合作社电商平台上线以来，",
        "（扩大）会议召开",
        "随后，记者来到位于",
        "通讯设备升级",
        "记者演示起来：在实时VR模式下，",
        "乡村振兴社区通讯",
        "今年全县供电 稳定",
        "记者：加装一台电梯大概要花多少钱？",
    ],
)
def test_split_lead_leaves_ordinary_paragraphs_alone(text: str) -> None:
    assert split_lead(text) is None


def test_parse_people() -> None:
    assert parse_people("本报记者 沈小洁", need_role=True) == ("沈小洁",)
    assert parse_people("记者 何明 姚青青") == ("何明", "姚青青")
    assert parse_people("文/图 王小明", need_role=True) == ("王小明",)
    assert parse_people("随后，记者来到位于", need_role=True) is None
    assert parse_people("这是一个很长的句子不是名字") is None


def test_names_spaced_out_to_three_characters_are_one_name() -> None:
    assert parse_people("石 磊") == ("石磊",)
    assert parse_people("记者 王 明 李 华") == ("王明", "李华")
    assert parse_people("通讯员 姚佳琪 石 磊") == ("姚佳琪", "石磊")
    assert parse_people("王 明 李") is None  # a lone character is no name


@pytest.mark.parametrize(
    ("line", "people"),
    [
        ("·韩立军·", ("韩立军",)),
        ("·何明 姚青青·", ("何明", "姚青青")),
        ("本报记者 沈小洁", ("沈小洁",)),
        ("（记者 杨志伟 通讯员 石建平）", ("杨志伟", "石建平")),
        ("□ 本报见习记者 周一鸣", ("周一鸣",)),
        ("县融媒体中心记者 赵刚", ("赵刚",)),
        ("文/图 王小明", ("王小明",)),
        ("□ 钟 文", ("钟文",)),
        ("·林 樾·", ("林樾",)),
        ("□ 融媒记者 姚佳琪 通讯员 石 磊", ("姚佳琪", "石磊")),
        ("文/本报记者 杜若 图/本报记者 陶然", ("杜若", "陶然")),
        ("本报记者 梁晨 整理", ("梁晨",)),
        ("记者 王明 报道", ("王明",)),
        ("本报评论员", ("本报评论员",)),
        ("人民日报评论员", ("人民日报评论员",)),
        ("读者 鄂晓光", ("鄂晓光",)),
        ("本报记者舒泉清", ("舒泉清",)),
    ],
)
def test_signature_lines(line: str, people: tuple[str, ...]) -> None:
    assert byline(line) == people


@pytest.mark.parametrize(
    "line",
    [
        "记者注意到，这里变了。",
        "县委中心组召开专题学习会",
        "（扩大）",
        "记者：为什么这样做？",
        "记者调查",
        "记者手记",
        "读者朋友们",
        "□ 图片新闻",
        "◎ 抓招商 引项目",
        "□ 高温预警",
    ],
)
def test_sentences_are_not_signatures(line: str) -> None:
    assert byline(line) is None


@pytest.mark.parametrize(
    ("line", "caption", "people"),
    [
        ("晨光熹微，古城如画。 范同心摄", "晨光熹微，古城如画。", ("范同心",)),
        ("陆远 徐小卉 摄", "", ("陆远", "徐小卉")),
        ("施工现场一片繁忙。 本报记者 崔山 摄", "施工现场一片繁忙。", ("崔山",)),
        ("▶ 孩子们在读书。（赵磊 摄）", "孩子们在读书。", ("赵磊",)),
        ("图/孙浩", "", ("孙浩",)),
        ("摄影 钱伟", "", ("钱伟",)),
        ("村民在晾晒玉米。（图片由城关镇提供）", "村民在晾晒玉米。", ("城关镇",)),
        ("货轮正在装卸货物。新华社记者 秦 岭 摄", "货轮正在装卸货物。", ("秦岭",)),
        ("夜幕下的大桥流光溢彩。 张可欣 摄影报道", "夜幕下的大桥流光溢彩。", ("张可欣",)),
        ("□ 摄影 常乐", "", ("常乐",)),
        ("儿童在参加游戏。（资料图片）", "儿童在参加游戏。（资料图片）", ()),
    ],
)
def test_photo_credits(line: str, caption: str, people: tuple[str, ...]) -> None:
    assert photo_credit(line) == (caption, people)


@pytest.mark.parametrize("line", ["工作人员正在进行拍摄。", "本届摄影大赛共收到作品300余幅"])
def test_sentences_about_photography_are_not_credits(line: str) -> None:
    assert photo_credit(line) is None


def test_trailing_byline() -> None:
    assert trailing_byline("群众反响良好。（记者 孙丽娜）") == ("群众反响良好。", ("孙丽娜",))
    assert trailing_byline("参加了活动。 ·郑凯·") == ("参加了活动。", ("郑凯",))
    assert trailing_byline("会议召开。（完）") is None
    assert trailing_byline("召开安全生产专题学习(扩大)") is None
