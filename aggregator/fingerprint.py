"""Fingerprints of normalised text: an exact hash, a MinHash signature and its LSH band keys.

Two ideas. MinHash over character 5-grams estimates how much text two articles share without
keeping the text: the fraction of equal positions in two signatures is their Jaccard
similarity, and with the shingle counts it also gives how much of the shorter one the longer
contains. Banded LSH turns a signature into a few integer keys (32 bands of 4 rows) so that
similar articles share a key with high probability; the keys live in SQLite, not in RAM.

Each MinHash value is kept to its low 16 bits (b-bit MinHash): two unrelated values agree by
chance one time in 65,536, a negligible bias, and the stored signature halves. Numbers are
fingerprinted separately, each with the two characters either side, because two templated
reports share nearly all of their text and differ only in their digits.

`fingerprint_article` derives all of it from an article's title and text in one go (an
`ArticlePrint`): a pure function, so a bulk import computes it in worker processes and the
writer only looks keys up and stores them.
"""

from __future__ import annotations

import functools
import hashlib
import operator
import struct
import sys
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import rensa

from .errors import AggregatorError
from .normalise import normalise_title, prepare

NUM_PERM = 128
BANDS = 32
ROWS = NUM_PERM // BANDS
SHINGLE = 5
SEED = 1019
#: At most this many distinct (context, number) pairs are kept per article.
MAX_NUMBERS = 64
#: Title keys kept per article (a bottom-k sample of the title's character bigrams).
TITLE_KEYS = 6
#: Passage keys kept per article (a bottom-k sample of its sentences' hashes)…
PASSAGE_KEYS = 6
#: …counting sentences of at least this many normalised characters.
MIN_PASSAGE = 12

_KEY_BITS = 42  # band id sits above these bits; the whole key fits SQLite's 6-byte integers
_KEY_MASK = (1 << _KEY_BITS) - 1
_TITLE_MASK = (1 << 47) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M64 = (1 << 64) - 1
_FORMAT = 1
_HEADER = struct.Struct("<BBqIIH")
_LOW_HALF = 0 if sys.byteorder == "little" else 1
_U32 = array("I").itemsize == 4 and array("H").itemsize == 2


@dataclass(frozen=True)
class Signature:
    """What the merger keeps of an article's text: enough to compare, nothing to display."""

    text_hash: int  # signed 64-bit hash of the normalised text; 0 for empty text
    length: int  # characters of normalised text
    shingles: int  # distinct character 5-grams
    minhash: bytes  # NUM_PERM little-endian uint16 values
    numbers: tuple[int, ...] = ()  # sorted (context hash << 16 | number hash) values

    @property
    def empty(self) -> bool:
        return self.shingles == 0

    def to_bytes(self) -> bytes:
        """Versioned binary form for the `article_signatures.sig` column."""
        head = _HEADER.pack(
            _FORMAT,
            rensa.RMinHash.ALGORITHM_VERSION,
            self.text_hash,
            self.length,
            self.shingles,
            len(self.numbers),
        )
        return head + self.minhash + array("I", self.numbers).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        """Inverse of `to_bytes`; refuses signatures made by another format or MinHash."""
        if len(data) < _HEADER.size + 2 * NUM_PERM:
            raise AggregatorError("stored signature is truncated; re-index the article")
        fmt, algo, text_hash, length, shingles, count = _HEADER.unpack_from(data)
        if fmt != _FORMAT or algo != rensa.RMinHash.ALGORITHM_VERSION:
            raise AggregatorError(
                f"stored signature has format {fmt}/{algo}, this version expects "
                f"{_FORMAT}/{rensa.RMinHash.ALGORITHM_VERSION}; re-index the archive"
            )
        start = _HEADER.size
        minhash = bytes(data[start : start + 2 * NUM_PERM])
        nums = array("I")
        nums.frombytes(data[start + 2 * NUM_PERM : start + 2 * NUM_PERM + 4 * count])
        return cls(text_hash, length, shingles, minhash, tuple(nums))


def _hash64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little", signed=True)


def _hash16(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=2).digest(), "little")


def text_hash(norm: str) -> int:
    """Exact-match key of a normalised text (signed, so SQLite stores it as an integer)."""
    return _hash64(norm.encode()) if norm else 0


def shingles(norm: str, size: int = SHINGLE) -> list[str]:
    """Character n-grams; a text shorter than one n-gram is its own single shingle."""
    if len(norm) <= size:
        return [norm] if norm else []
    return [norm[i : i + size] for i in range(len(norm) - size + 1)]


def _number_keys(numbers: Iterable[tuple[str, str, str]]) -> tuple[int, ...]:
    seen: dict[int, None] = {}
    for before, digits, after in numbers:
        seen[_hash16(before + "|" + after) << 16 | _hash16(digits.lstrip("0") or "0")] = None
        if len(seen) >= MAX_NUMBERS:
            break
    return tuple(sorted(seen))


def signature(norm: str, numbers: Iterable[tuple[str, str, str]] = ()) -> Signature:
    """Fingerprint one normalised text and its numbers in context (see `normalise.prepare`)."""
    grams = shingles(norm)
    if not grams:
        return Signature(0, 0, 0, b"\xff\xff" * NUM_PERM, ())
    mh = rensa.RMinHash(NUM_PERM, SEED)
    mh.update(grams)
    # The low 16 bits of each 32-bit value, without a Python loop: the 16-bit halves of the
    # values' bytes, every other one (the first of each pair on a little-endian machine).
    if _U32:
        low = array("H", array("I", mh.digest()).tobytes())[_LOW_HALF::2]
    else:  # a platform whose C int is not 32 bits
        low = array("H", (v & 0xFFFF for v in mh.digest()))
    return Signature(
        text_hash(norm), len(norm), len(set(grams)), low.tobytes(), _number_keys(numbers)
    )


def band_keys(sig: Signature) -> tuple[int, ...]:
    """One integer per band: band number in the high bits, a mix of its 4 rows below."""
    if sig.empty:
        return ()
    out = []
    width = 2 * ROWS
    for band in range(BANDS):
        rows = int.from_bytes(sig.minhash[band * width : (band + 1) * width], "little")
        mixed = ((rows * _GOLDEN) & _M64) >> (64 - _KEY_BITS)
        out.append(band << _KEY_BITS | (mixed & _KEY_MASK))
    return tuple(out)


def band_of(key: int) -> int:
    """Which band a stored key belongs to (for inspection in SQL: key >> 42)."""
    return key >> _KEY_BITS


def jaccard(a: Signature, b: Signature) -> float:
    """Estimated Jaccard similarity of the two shingle sets; 0 when either text is empty."""
    if a.empty or b.empty:
        return 0.0
    if a.minhash == b.minhash:
        return 1.0
    xa = array("H")
    xa.frombytes(a.minhash)
    xb = array("H")
    xb.frombytes(b.minhash)
    return sum(map(operator.eq, xa, xb)) / NUM_PERM


def containment(a: Signature, b: Signature, j: float | None = None) -> float:
    """Estimated share of the smaller shingle set found in the larger one.

    From |A∩B| = J(|A|+|B|)/(1+J); an abridged reprint scores near 1 while its Jaccard with
    the full text is only the ratio of their lengths.
    """
    if a.empty or b.empty:
        return 0.0
    j = jaccard(a, b) if j is None else j
    inter = j * (a.shingles + b.shingles) / (1.0 + j)
    return min(1.0, inter / min(a.shingles, b.shingles))


def number_agreement(a: Signature, b: Signature) -> tuple[int, int]:
    """(agreeing, conflicting) number contexts found in both texts.

    A context agrees when both texts have a common number in it, conflicts when the numbers
    they put there are all different: 新增3例 against 新增5例.
    """
    ca = _by_context(a.numbers)
    cb = _by_context(b.numbers)
    agree = conflict = 0
    for ctx, nums in ca.items():
        other = cb.get(ctx)
        if other is None:
            continue
        if nums & other:
            agree += 1
        else:
            conflict += 1
    return agree, conflict


# The merger compares one article with several stories' canonicals and members, and a popular
# story's canonical with every copy that arrives: small caches spare rebuilding the same
# lookups. Both return values that callers only read.
@functools.lru_cache(maxsize=2048)
def _by_context(values: tuple[int, ...]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for v in values:
        out.setdefault(v >> 16, set()).add(v & 0xFFFF)
    return out


def bigrams(text: str) -> set[str]:
    if len(text) < 2:
        return {text} if text else set()
    return {text[i : i + 2] for i in range(len(text) - 1)}


@functools.lru_cache(maxsize=2048)
def _bigrams(text: str) -> frozenset[str]:
    return frozenset(bigrams(text))


def title_similarity(a: str, b: str) -> float:
    """Jaccard similarity of character bigrams of two normalised titles (exact, not sampled)."""
    ga, gb = _bigrams(a), _bigrams(b)
    if not ga or not gb:
        return 0.0
    return len(ga & gb) / len(ga | gb)


# Bigrams so common in Chinese news headlines that sharing one says nothing; leaving them out
# of the sample keeps title lookups from returning every headline of the week.
_COMMON_BIGRAMS = frozenset(
    [
        "中国",
        "国家",
        "习近",
        "近平",
        "发展",
        "工作",
        "会议",
        "召开",
        "推进",
        "推动",
        "建设",
        "全国",
        "我国",
        "今年",
        "举行",
        "主席",
        "总书",
        "书记",
        "记者",
        "新闻",
        "经济",
        "企业",
        "项目",
        "服务",
        "市场",
        "国际",
        "国务",
        "务院",
        "部门",
        "加强",
        "全面",
        "高质",
        "质量",
        "重要",
        "合作",
        "社会",
        "人民",
        "持续",
        "创新",
        "活动",
        "开展",
        "实施",
        "政策",
        "安全",
        "管理",
        "关于",
        "通知",
        "公告",
        "会见",
        "强调",
        "表示",
        "指出",
        "以上",
        "一步",
        "进一",
        "亿元",
        "万元",
        "同比",
        "增长",
        "记者",
        "特色",
        "文化",
        "乡村",
        "振兴",
        "领导",
        "干部",
        "群众",
        "代表",
        "委员",
        "政府",
        "中央",
        "全省",
        "全市",
        "全区",
        "我市",
        "我区",
        "我县",
        "街道",
        "社区",
    ]
)


def title_keys(norm_title: str, k: int = TITLE_KEYS) -> tuple[int, ...]:
    """Bottom-k sample of the title's bigram hashes: similar titles share some of them."""
    grams = bigrams(norm_title)
    grams = (grams - _COMMON_BIGRAMS) or grams
    hashes = sorted({_hash64(g.encode()) & _TITLE_MASK for g in grams})
    return tuple(hashes[:k])


def passage_keys(sentences: Iterable[str], k: int = PASSAGE_KEYS) -> tuple[int, ...]:
    """Bottom-k sample of the hashes of sentences long enough to be distinctive.

    A copy that keeps most sentences (an abridged reprint, a light or heavy edit) shares
    some of the k smallest hashes with its original even when its Jaccard similarity is
    too low for the LSH bands to find it.
    """
    hashes = sorted({_hash64(s.encode()) & _TITLE_MASK for s in sentences if len(s) >= MIN_PASSAGE})
    return tuple(hashes[:k])


def same_values(a: Sequence[int], b: Sequence[int]) -> int:
    """How many values two key samples share (for ranking title candidates)."""
    return len(set(a) & set(b))


@dataclass(frozen=True)
class ArticlePrint:
    """Everything the merger derives from one article's title and text, computed once."""

    signature: Signature
    title: str  # normalised title (normalise.normalise_title)
    passages: tuple[int, ...]  # passage_keys of its sentences
    bands: tuple[int, ...]  # band_keys of its signature
    title_keys: tuple[int, ...]
    # Short texts only (see `fingerprint_article`): the normalised text and its sentences,
    # for exact comparison; empty otherwise.
    text: str = ""
    sentences: tuple[str, ...] = ()


def fingerprint_article(title: str, text: str, *, keep_text_below: int) -> ArticlePrint:
    """Normalise and fingerprint an article; its normalised text and sentences are kept when
    it is shorter than `keep_text_below` characters (short texts are compared exactly)."""
    prepared = prepare(text)
    norm = prepared.text
    sig = signature(norm, prepared.numbers)
    norm_title = normalise_title(title)
    short = len(norm) < keep_text_below
    return ArticlePrint(
        signature=sig,
        title=norm_title,
        passages=passage_keys(prepared.sentences),
        bands=band_keys(sig),
        title_keys=title_keys(norm_title),
        text=norm if short else "",
        sentences=prepared.sentences if short else (),
    )
