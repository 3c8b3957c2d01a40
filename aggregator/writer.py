"""One writer for SQLite: a single thread owns the write connection; coroutines queue work.

The event loop never blocks on SQLite and never holds a connection across an `await`: each
call hands a plain function to the writer thread, which runs it (usually inside one
transaction) and returns plain values. Readers (the web server) use their own read-only
connections and, thanks to WAL, never wait for the writer nor make it wait.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from .store import connect, open_db, transaction

T = TypeVar("T")


class Writer:
    """Runs functions `fn(db, *args)` one at a time on the thread that owns the connection."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._db: sqlite_utils.Database | None = None
        self._cache: dict[str, Any] = {}
        #: bumped after every committed write, so readers know their caches are stale
        self.generation = 0
        self._lock = threading.Lock()

    def _open(self) -> sqlite_utils.Database:
        if self._db is None:
            self._db = open_db(self.path)
        return self._db

    async def start(self) -> None:
        await self.call(lambda db: None)

    def cached(self, name: str, factory: Callable[[sqlite_utils.Database], T]) -> T:
        """A per-writer object built once on the writer thread (e.g. the tagger)."""
        if name not in self._cache:
            self._cache[name] = factory(self._open())
        return self._cache[name]

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(db, *args) on the writer thread, outside any transaction."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, fn, args, False)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(db, *args) inside one transaction: all of it is stored, or none."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, fn, args, True)

    def run_sync(self, fn: Callable[..., T], *args: Any, transact: bool = True) -> T:
        """The same, for synchronous callers (CLI commands)."""
        return self._executor.submit(self._run, fn, args, transact).result()

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...], transact: bool) -> T:
        db = self._open()
        if not transact:
            return fn(db, *args)
        with transaction(db):
            result = fn(db, *args)
        with self._lock:
            self.generation += 1
        return result

    def close(self) -> None:
        def _close() -> None:
            if self._db is not None:
                self._db.execute("PRAGMA optimize")
                self._db.conn.close()
                self._db = None

        self._executor.submit(_close).result()
        self._executor.shutdown(wait=True)


class Readers:
    """Read-only connections, one per worker thread, for the server's queries."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()

    def db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            conn = connect(self.path, readonly=True)
            db = sqlite_utils.Database(conn)
            self._local.db = db
            with self._lock:
                self._all.append(conn)
        return db

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(lambda: fn(self.db(), *args))

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
