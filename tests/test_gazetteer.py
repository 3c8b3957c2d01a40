"""The gazetteer: packaged divisions, code history, zones, the importers and SQLite storage.

Small division files below are written for these tests in the formats users download; the
checks on the real public lists read ../shared/geodata at test time and skip when absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aggregator import store
from aggregator.errors import ConfigError
from aggregator.gazetteer import (
    Division,
    Gazetteer,
    build_gazetteer,
    import_divisions,
    load_gazetteer,
    short_names,
    store_divisions,
)

GEODATA = Path(__file__).resolve().parents[2] / "shared" / "geodata"


def geodata(name: str) -> Path:
    path = GEODATA / name
    if not path.exists():
        pytest.skip(f"{path} not present (../shared is only beside the repository in development)")
    return path


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return build_gazetteer()


# ------------------------------------------------------------------ packaged data


def test_lookup_and_ancestors_walk_up_to_the_province(gaz: Gazetteer) -> None:
    d = gaz.get("320412")
    assert (d.name, d.level, d.parent) == ("武进区", "county", "320400")
    assert [a.code for a in gaz.ancestors("320412")] == ["320400", "320000"]
    assert [a.level for a in gaz.lineage("320412")] == ["county", "city", "province"]
    assert gaz.ancestors("320000") == ()


def test_municipal_districts_sit_directly_under_the_municipality(gaz: Gazetteer) -> None:
    assert gaz.get("110105").parent == "110000"
    assert gaz.get("110100") is None  # the 市辖区 bookkeeping row is not a unit


def test_counties_governed_by_the_province_have_the_province_as_parent(gaz: Gazetteer) -> None:
    assert gaz.get("429004").name == "仙桃市"
    assert gaz.get("429004").parent == "420000"


def test_old_codes_map_to_the_unit_holding_their_ground_today(gaz: Gazetteer) -> None:
    assert gaz.current("320602") == "320613"  # 崇川区 recoded in 2020
    assert gaz.current("320611") == "320613"  # 港闸区 merged into it
    assert gaz.current("320684") == "320614"  # 海门市 -> 海门区
    assert gaz.current("500112") == "500157"  # 渝北区 -> 两江新区 (2025)
    assert gaz.get("320602").name == "崇川区"
    assert gaz.current("320613") == "320613"
    assert gaz.current("999999") == "999999"  # unknown codes come back unchanged
    assert gaz.get("999999") is None


def test_search_finds_full_short_former_and_traditional_names(gaz: Gazetteer) -> None:
    assert [d.code for d in gaz.search("武进区")] == ["320412"]
    assert "320412" in [d.code for d in gaz.search("武进")]
    assert [d.code for d in gaz.search("港闸区")] == ["320613"]
    assert [d.code for d in gaz.search("廣東省")] == ["440000"]
    assert {d.code for d in gaz.search("鼓楼区")} >= {"320106", "320302", "350102"}


def test_children_list_the_units_inside(gaz: Gazetteer) -> None:
    names = {d.name for d in gaz.children("320600")}
    assert {"崇川区", "通州区", "海门区", "海安市"} <= names
    assert "港闸区" not in names


@pytest.mark.parametrize(
    "name, level, expected",
    [
        ("江苏省", "province", ("江苏",)),
        ("广西壮族自治区", "province", ("广西",)),
        ("香港特别行政区", "province", ("香港特区", "香港")),
        ("黔南布依族苗族自治州", "city", ("黔南", "黔南州")),
        ("兴安盟", "city", ("兴安",)),
        ("兰坪白族普米族自治县", "county", ("兰坪", "兰坪县")),
        ("塔什库尔干塔吉克自治县", "county", ("塔什库尔干", "塔什库尔干县")),
        ("武进区", "county", ("武进",)),
        ("睢县", "county", ()),  # one character left is no name
        ("南夏墅街道", "town", ("南夏墅",)),
        ("城东街道", "town", ()),  # two-character township stems are everyday words
    ],
)
def test_short_names(name: str, level: str, expected: tuple[str, ...]) -> None:
    assert short_names(name, level) == expected


def test_project_zones_have_non_official_ids_and_sit_in_the_tree(gaz: Gazetteer) -> None:
    zone = gaz.get("Z411400-sqsfq")
    assert zone.name == "商丘市城乡一体化示范区"
    assert zone.level == "zone"
    assert zone.parent == "411400"
    assert "示范区" in zone.local  # the bare name only its own outlets use
    assert all(d.code.startswith("Z") for d in gaz if d.origin == "zone")
    # NBS statistical zones it contains are re-parented under it.
    assert gaz.get("411471").parent == "Z411400-sqsfq"


def test_packaged_data_is_small() -> None:
    data = Path(__file__).resolve().parents[1] / "aggregator" / "data"
    size = sum(p.stat().st_size for p in data.glob("regions*"))
    assert size < 2_000_000


# ------------------------------------------------------------------ importers, own fixtures

STREETS = """code,name,areaCode,provinceCode,cityCode
320412100,"湖塘镇",320412,32,3204
320412102,"牛塘镇",320412,32,3204
320412411,"高新区",320412,32,3204
320613008,"文峰街道",320613,32,3206
320602001,"旧城街道",320602,32,3206
320412198,"武进区直辖村级区划",320412,32,3204
"""

TREE = [
    {
        "code": "32",
        "name": "江苏省",
        "children": [
            {
                "code": "3204",
                "name": "常州市",
                "children": [
                    {
                        "code": "320412",
                        "name": "武进区",
                        "children": [{"code": "320412113", "name": "前黄镇"}],
                    }
                ],
            }
        ],
    },
    {
        "code": "41",
        "name": "河南省",
        "children": [
            {
                "code": "4190",
                "name": "省直辖县级行政区划",
                "children": [{"code": "419001", "name": "济源市", "children": []}],
            }
        ],
    },
]

HISTORY = (
    "\ufeff代码,一级行政区,二级行政区,名称,级别,状态,启用时间,变更/弃用时间,新代码\n"
    "320600,江苏省,南通市,南通市,地级,在用,1983,,\n"
    "320602,江苏省,南通市,崇川区,县级,弃用,1991,2020,320613\n"
    "320602,江苏省,南通市,城区,县级,变更,1983,1991,320602\n"
    "320611,江苏省,南通市,港闸区,县级,弃用,1991,2020,320613\n"
    "320613,江苏省,南通市,崇川区,县级,在用,2020,,\n"
    "320625,江苏省,南通市,海门县,县级,弃用,1983,1994,320684\n"
    "320684,江苏省,南通市,海门市,县级,弃用,1994,2020,320614\n"
    "320614,江苏省,南通市,海门区,县级,在用,2020,,\n"
    "130400,河北省,邯郸市,邯郸市,地级,在用,1983,,\n"
    "130402,河北省,邯郸市,邯山区,县级,在用,1983,,\n"
    "130403,河北省,邯郸市,丛台区,县级,在用,1983,,\n"
    "130404,河北省,邯郸市,复兴区,县级,在用,1983,,\n"
    "130421,河北省,邯郸市,邯郸县,县级,弃用,1983,2016,130404[2014];130402;130403\n"
)

AREACITY = (
    "\ufeffid,pid,deep,name,pinyin_prefix,pinyin,ext_id,ext_name\n"
    '3204,32,1,"常州","c","chang zhou","320400000000","常州市"\n'
    '320412,3204,2,"武进","w","wu jin","320412000000","武进区"\n'
    '320412001,320412,3,"南夏墅","n","nan xia shu","320412001000","南夏墅街道"\n'
    '320412100,320412,3,"湖塘","h","hu tang","320412100000","湖塘镇"\n'
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_streets_csv_gives_townships_under_their_county(tmp_path: Path) -> None:
    rows = {d.code: d for d in import_divisions(write(tmp_path, "streets.csv", STREETS))}
    assert rows["320412100"] == Division("320412100", "湖塘镇", "town", "320412", origin="nbs")
    assert rows["320412411"].level == "zone"  # NBS 4xx: a functional unit, not a township
    assert "320412198" not in rows  # 直辖村级区划 is bookkeeping


def test_nested_tree_widens_codes_and_skips_bookkeeping_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "pcas-code.json", json.dumps(TREE, ensure_ascii=False))
    rows = {d.code: d for d in import_divisions(path)}
    assert rows["320000"].level == "province"
    assert rows["320400"].parent == "320000"
    assert rows["320412113"].parent == "320412"
    assert "419000" not in rows
    assert rows["419001"].parent == "410000"


def test_mca_history_maps_old_codes_through_chains_and_splits(tmp_path: Path) -> None:
    rows = {d.code: d for d in import_divisions(write(tmp_path, "result.csv", HISTORY))}
    assert set(rows) == {"320600", "320613", "320614", "130400", "130402", "130403", "130404"}
    chongchuan = rows["320613"]
    assert {old for old, _ in chongchuan.former} == {"320602", "320611"}
    assert chongchuan.former_names == ("港闸区",)  # 城区 (1991) is too old to matter
    assert {old for old, _ in rows["320614"].former} == {"320625", "320684"}  # a chain
    # A split goes to the unit named first without a year; parts moved out earlier follow.
    assert {old for old, _ in rows["130402"].former} == {"130421"}
    assert rows["130402"].former_names == ()  # a split's name means no single unit


def test_areacity_townships_get_project_ids(tmp_path: Path) -> None:
    rows = import_divisions(write(tmp_path, "ok_data_level4.csv", AREACITY))
    towns = {d.name: d for d in rows if d.level == "town"}
    assert towns["南夏墅街道"].code == "Z320412-nxsjd"
    assert towns["南夏墅街道"].parent == "320412"
    assert all(d.code.startswith("Z") for d in towns.values())


def test_unknown_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a division list"):
        import_divisions(write(tmp_path, "x.csv", "a,b\n1,2\n"))


def test_merge_prefers_official_township_codes(tmp_path: Path) -> None:
    rows = import_divisions(write(tmp_path, "streets.csv", STREETS))
    rows += import_divisions(write(tmp_path, "areacity.csv", AREACITY))
    g = build_gazetteer(rows)
    assert g.get("320412100").name == "湖塘镇"
    assert g.search("湖塘镇") == (g.get("320412100"),)  # AreaCity's copy is dropped
    assert g.get("Z320412-nxsjd").name == "南夏墅街道"  # the unit NBS lacks is kept
    # The township under an old county code is moved to the current county.
    assert g.get("320602001").parent == "320613"
    # A project zone with an NBS twin gives way to the official code and lends its name.
    assert g.current("Z320412-wjgxq") == "320412411"
    assert g.get("320412411").name == "武进国家高新技术产业开发区"


# ------------------------------------------------------------------ SQLite storage


def test_store_and_load_round_trip(tmp_path: Path) -> None:
    db = store.open_db(tmp_path / "a.db")
    assert load_gazetteer(db).get("320412100") is None  # nothing imported yet
    rows = import_divisions(write(tmp_path, "streets.csv", STREETS))
    rows += import_divisions(write(tmp_path, "result.csv", HISTORY))
    with store.transaction(db):
        assert store_divisions(db, rows) == len(rows)
    store_divisions(db, rows)  # importing again changes nothing
    assert db["divisions"].count == len(rows)
    assert db["division_aliases"].get("320611")["new_code"] == "320613"
    g = load_gazetteer(db)
    assert [d.name for d in g.lineage("320412100")] == ["湖塘镇", "武进区", "常州市", "江苏省"]
    assert g.get("320613008").parent == "320613"
    assert g.current("320625") == "320614"


def test_load_without_database_is_the_packaged_gazetteer() -> None:
    g = load_gazetteer(None)
    assert g.get("320412").name == "武进区"
    assert not any(d.level == "town" for d in g)


# ------------------------------------------------------------------ the real public lists


def test_real_streets_csv() -> None:
    rows = import_divisions(geodata("streets.csv"))
    assert len(rows) > 40_000
    by_code = {d.code: d for d in rows}
    assert by_code["320412100"].name == "湖塘镇"
    assert by_code["320613008"].name == "文峰街道"
    assert sum(1 for d in rows if d.name == "城东街道") > 20


def test_real_pcas_tree_and_history() -> None:
    tree = {d.code: d for d in import_divisions(geodata("pcas-code.json"))}
    assert tree["411471101"].name == "贾寨镇"
    assert tree["411471"].level == "zone"
    history = {d.code: d for d in import_divisions(geodata("areacodes/result.csv"))}
    assert ("320602", "2020") in history["320613"].former
    g = build_gazetteer([*tree.values(), *history.values()])
    assert g.current("320611") == "320613"
    assert [d.code for d in g.ancestors("411471101")] == [
        "411471",
        "Z411400-sqsfq",
        "411400",
        "410000",
    ]


def test_real_areacity_fills_in_townships_nbs_lacks() -> None:
    rows = import_divisions(geodata("streets.csv"))
    rows += import_divisions(geodata("areacity/ok_data_level4.csv"))
    g = build_gazetteer(rows)
    (nxs,) = g.search("南夏墅街道")
    assert nxs.code.startswith("Z320412-") and nxs.parent == "320412"
    assert [d.code for d in g.search("戚墅堰街道")] == ["320412001"]
