"""The CPU half of storing an article: its tags and the merger's print, computed before the write.

Everything that reads an article's text to understand it (region and topic tagging,
normalising and fingerprinting for the merger) is a pure function of the entry and of the
tagger, which is only ever read. So it can run anywhere, and for a bulk import it runs in
worker processes: while the one writer stores and merges a batch, the workers analyse the
next ones, on the machine's other cores. The writer gets exactly the values it would have
computed itself (`analyse` is the same function either way); it only looks keys up and writes.

Workers are forked, so they inherit the tagger already built (no second load of the gazetteer
and the automata); they are started before the caller starts any thread, and where `fork` does
not exist the caller analyses inline instead.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from . import store
from .fingerprint import ArticlePrint
from .model import Entry, Tags
from .store_stories import article_print
from .tag import Tagger, tag_entry

#: Seconds a worker may take over one chunk before the import gives up on it.
CHUNK_TIMEOUT = 600.0
#: Seconds between a worker's checks that its importer still runs.
ORPHAN_CHECK = 0.5

T = TypeVar("T")


@dataclass(frozen=True)
class Analysis:
    """What the writer needs of one entry besides the entry itself."""

    tags: Tags
    print: ArticlePrint  # store_stories.article_print of the title and `text or summary`
    # Computed ahead only (the writer computes them itself otherwise): the full-text
    # index's title and body (store.fts_row) and the tags' rows (store.tag_rows).
    fts_text: tuple[str, str] | None = None
    tag_rows: store.TagRows | None = None


def analyse(
    tagger: Tagger,
    entry: Entry,
    *,
    home: str | None = None,
    topics: tuple[str, ...] = (),
    ahead: bool = False,
) -> Analysis:
    """Tags and merge print of one entry, as stored: the print is of what `store.save_entry`
    writes (title, and text or else summary). `ahead` (in a worker) also prepares the rows
    the writer stores, so that it has nothing left to compute but keys and lookups."""
    tags = tag_entry(tagger, entry, home=home, topics=topics)
    return Analysis(
        tags=tags,
        print=article_print(entry.title, entry.text or entry.summary),
        fts_text=store.fts_row(entry) if ahead else None,
        tag_rows=store.tag_rows(tags) if ahead else None,
    )


Job = tuple[Entry, str | None, tuple[str, ...]]  # an entry with its outlet's home and topics

_TAGGER: Tagger | None = None  # a worker's tagger: the parent's, inherited through fork


def _init_worker(tagger: Tagger, parent: int) -> None:
    global _TAGGER
    _TAGGER = tagger
    # Ctrl-C reaches the whole process group: the importer stops its workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(parent,), name="orphan-watch", daemon=True).start()


def _exit_with(parent: int) -> None:
    """End this worker once its importer is gone. A worker waits on its task queue, whose
    write end it shares (forked), so it never sees end-of-file: after a `kill -9` of the
    importer it would wait forever. Its parent changing (to init) is the sign."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK)
    os._exit(1)


def _analyse_chunk(jobs: Sequence[Job]) -> list[Analysis]:
    assert _TAGGER is not None, "worker started without a tagger"
    return [analyse(_TAGGER, entry, home=home, topics=topics, ahead=True)
            for entry, home, topics in jobs]


def default_workers() -> int:
    """Worker processes for a bulk import: one per core, at most four (more would wait for the
    one writer); 0 (analyse inline) on one core or where fork is missing."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 0
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(cores, 4)


class Analyser:
    """Analyses chunks of jobs in forked worker processes, results in submission order.

    Create it before starting any thread (a progress bar's monitor, a writer): the workers
    are forked when it is created, and forking a threaded process is unsafe.
    """

    def __init__(self, tagger: Tagger, workers: int):
        if workers < 1:
            raise ValueError("an Analyser needs at least one worker")
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_init_worker,
            initargs=(tagger, os.getpid()),
        )
        # A first (empty) task forks every worker now, while this process has no threads
        # of its own yet (the executor's manager thread starts after the fork).
        self._pool.submit(_analyse_chunk, []).result(timeout=CHUNK_TIMEOUT)

    def submit(self, jobs: Sequence[Job]) -> Future[list[Analysis]]:
        return self._pool.submit(_analyse_chunk, list(jobs))

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Analyser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pipelined(
    items: Iterable[tuple[T, Job]],
    analyser: Analyser,
    *,
    chunk: int = 64,
    ahead: int | None = None,
) -> Iterator[tuple[T, Analysis]]:
    """(tag, analysis) for each (tag, job), in order. Jobs go to the workers in chunks, up to
    `ahead` chunks beyond the one the caller is handling (default: two per worker, plus one),
    so the workers analyse while the caller writes; memory stays bounded by the chunks."""
    limit = ahead if ahead is not None else 2 * analyser.workers + 1
    queue: deque[tuple[list[T], Future[list[Analysis]]]] = deque()

    def oldest() -> Iterator[tuple[T, Analysis]]:
        tags, future = queue.popleft()
        yield from zip(tags, future.result(timeout=CHUNK_TIMEOUT), strict=True)

    try:
        for part in _chunks(items, chunk):
            queue.append(([t for t, _ in part], analyser.submit([j for _, j in part])))
            while len(queue) > limit:
                yield from oldest()
        while queue:
            yield from oldest()
    finally:
        for _tags, future in queue:
            future.cancel()


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
