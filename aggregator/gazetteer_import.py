"""Read the public division lists users can download into `Division` rows (pure parsing).

`import_divisions(path)` recognises each format by its header, so `aggregator geo import FILE`
takes any of them:

- modood/Administrative-divisions-of-China (NBS statistical codes, WTFPL): ``streets.csv``
  (code,name,areaCode,provinceCode,cityCode), ``areas.csv``, ``cities.csv``,
  ``provinces.csv`` and the nested ``pcas-code.json`` / ``pca-code.json`` trees. Township
  codes (9 digits) are the official statistical ones.
- yescallop/areacodes (MCA county-level list with history, CC0): ``result.csv``
  (代码,...,状态,启用时间,变更/弃用时间,新代码) gives the current units and, for each abolished
  code, its successor (320602 -> 320613); plain ``2024.txt`` style lists ("code name") too.
- xiangyuecn/AreaCity-JsSpider-StatsGov (MIT): ``ok_data_level4.csv``. Its township ids are
  NOT official where NBS lacks the unit (南夏墅街道 got 320412001, which is NBS's 戚墅堰街道),
  so every township from it gets a project id ("Z320412-nxsjd"); the gazetteer drops such a
  row when an official row of the same name and county exists.

Codes are widened to 6 digits for province/city/county (32 -> 320000, 3204 -> 320400). Rows
for 市辖区 and 省直辖县级行政区划 are bookkeeping, not units, and are skipped.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from aggregator.errors import ConfigError
from aggregator.gazetteer import Division

MUNICIPALITIES = ("11", "12", "31", "50")
NOT_UNITS = ("市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划", "直辖")
SINCE = 2000  # former names older than this are not worth matching in today's news
_TOWN_SUFFIX_PINYIN = (("街道", "jd"), ("民族乡", "mzx"), ("苏木", "sm"), ("镇", "z"), ("乡", "x"))


def import_divisions(path: str | Path) -> list[Division]:
    """Parse one downloaded division file into rows for `store_divisions`."""
    path = Path(path)
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith("["):
        return list(_from_tree(json.loads(stripped)))
    first = stripped.split("\n", 1)[0].strip()
    if first.startswith("代码") and "状态" in first:
        return _from_mca_history(_dict_rows(text))
    if first.startswith("id,pid,deep,name"):
        return list(_from_areacity(_dict_rows(text)))
    if first.startswith("code,name"):
        return list(_from_modood(_dict_rows(text)))
    if re.match(r"^\d{6}\s+\S", first):
        return list(_from_code_list(text))
    raise ConfigError(
        f"{path}: not a division list we know (expected modood streets.csv/pcas-code.json, "
        "areacodes result.csv or AreaCity ok_data_level4.csv)"
    )


def _dict_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def widen(code: str) -> str:
    """NBS short codes to GB/T 2260 width: 32 -> 320000, 3204 -> 320400; 9 digits stay."""
    return code.ljust(6, "0") if len(code) < 6 else code


def level_of(code: str) -> str:
    """Level from the code alone: NBS puts functional zones at x7x and 4xx/5xx positions."""
    if len(code) == 9:
        return "zone" if code[6] in "45" else "town"
    if code.endswith("0000"):
        return "province"
    if code.endswith("00"):
        return "city"
    return "zone" if code[4] == "7" else "county"


def parent_of(code: str, known: set[str] | None = None) -> str | None:
    """The containing unit by code arithmetic; municipalities skip their pseudo-city."""
    if len(code) == 9:
        return code[:6]
    if code.endswith("0000"):
        return None
    province = code[:2] + "0000"
    if code.endswith("00") or code[:2] in MUNICIPALITIES:
        return province
    city = code[:4] + "00"
    if code[2:4] == "90" or (known is not None and city not in known):
        return province  # 省直辖县级行政区划 (仙桃, 济源...)
    return city


def _unit(code: str, name: str, origin: str, known: set[str] | None = None) -> Division | None:
    code = widen(code.strip())
    name = name.strip()
    if not code.isdigit() or name in NOT_UNITS or "直辖" in name:
        return None
    level = level_of(code)
    if level == "city" and code[:2] in MUNICIPALITIES:
        return None
    return Division(code, name, level, parent_of(code, known), origin=origin)


def _from_modood(rows: list[dict[str, str]]) -> Iterator[Division]:
    cities = {widen(r["cityCode"]) for r in rows if r.get("cityCode")} or None
    for r in rows:
        d = _unit(r["code"], r["name"], "nbs", cities)
        if d is not None:
            yield d


def _from_tree(nodes: Iterable[dict]) -> Iterator[Division]:
    stack = list(nodes)
    cities = set()
    flat = []
    while stack:
        node = stack.pop()
        flat.append(node)
        if len(node["code"]) == 4:
            cities.add(widen(node["code"]))
        stack.extend(node.get("children", ()))
    for node in flat:
        d = _unit(node["code"], node["name"], "nbs", cities)
        if d is not None:
            yield d


def _from_code_list(text: str) -> Iterator[Division]:
    pairs = [line.split(maxsplit=1) for line in text.splitlines() if line.strip()]
    codes = {p[0] for p in pairs if len(p) == 2}
    for code, name in (p for p in pairs if len(p) == 2):
        d = _unit(code, name, "mca", codes)
        if d is not None:
            yield d


def _successors(field: str) -> list[str]:
    """'130404[2014];130402;130403' -> ['130402', '130403', '130404']: parts moved out earlier
    (with a year) come after the ones it went to when abolished."""
    now, before = [], []
    for part in filter(None, field.split(";")):
        (before if "[" in part else now).append(part.split("[", 1)[0])
    return now + before


def _from_mca_history(rows: list[dict[str, str]]) -> list[Division]:
    """In-use units, each with the old codes (and, since 2000, old names) now inside it."""
    in_use = {r["代码"]: r for r in rows if r["状态"] == "在用"}
    codes = set(in_use)
    successor: dict[str, str] = {}
    history: dict[str, list[tuple[str, str, str, bool]]] = {}
    for r in rows:
        code, state, year = r["代码"], r["状态"], (r["变更/弃用时间"] or "").strip()
        if state == "弃用":
            nxt = _successors(r["新代码"] or "")
            if nxt:
                successor[code] = nxt[0]
                history.setdefault(code, []).append((r["名称"], year, code, len(nxt) == 1))
        elif state == "变更" and code in in_use and r["名称"] != in_use[code]["名称"]:
            history.setdefault(code, []).append((r["名称"], year, code, True))

    def current(code: str) -> str | None:
        for _ in range(8):
            if code in in_use:
                return code
            if code not in successor:
                return None
            code = successor[code]
        return None

    former: dict[str, list[tuple[str, str]]] = {}
    names: dict[str, list[str]] = {}
    for old, events in history.items():
        new = current(old)
        if new is None:
            continue
        for name, year, _code, whole in events:
            if old != new:
                former.setdefault(new, []).append((old, year))
            recent = year[:4].isdigit() and int(year[:4]) >= SINCE
            if whole and recent and name != in_use[new]["名称"]:
                names.setdefault(new, []).append(name)
    out = []
    for code, r in in_use.items():
        d = _unit(code, r["名称"], "mca", codes)
        if d is None:
            continue
        formers = tuple(dict.fromkeys(former.get(code, ())))
        former_names = tuple(dict.fromkeys(names.get(code, ())))
        out.append(
            Division(d.code, d.name, d.level, d.parent, (), former_names, (), formers, "mca")
        )
    return out


def _project_id(county: str, pinyin: str, full: str, taken: set[str]) -> str:
    """Z<county>-<initials><suffix>: 南夏墅街道 (nan xia shu) -> Z320412-nxsjd."""
    initials = "".join(w[0] for w in pinyin.split() if w)
    suffix = next((p for s, p in _TOWN_SUFFIX_PINYIN if full.endswith(s)), "")
    base = f"Z{county}-{initials}{suffix}"
    pid, n = base, 2
    while pid in taken:
        pid, n = f"{base}{n}", n + 1
    taken.add(pid)
    return pid


def _from_areacity(rows: list[dict[str, str]]) -> Iterator[Division]:
    known = {widen(r["id"]) for r in rows if r["deep"] == "1"}
    taken: set[str] = set()
    for r in rows:
        full = (r.get("ext_name") or r["name"]).strip()
        if r["deep"] != "3":
            d = _unit(r["id"], full, "areacity", known)
            if d is not None:
                yield d
            continue
        county = widen(r["pid"].strip())  # 东莞's towns hang off the city itself (4419)
        pid = _project_id(county, r.get("pinyin", ""), full, taken)
        level = "town" if full.endswith(("街道", "镇", "乡", "苏木")) else "zone"
        yield Division(pid, full, level, county, origin="areacity")
