"""The load benchmarks still run: each in its tiny --smoke mode, as a real process.

Benchmarks print figures and never assert on them; what these tests check is that every
benchmark gets to its summary (the machine line, the table, the target line) and exits 0,
so a change in the product's API or CLI that breaks a benchmark shows up in CI and not on
the day someone wants the figures. Everything they start (feed server, daemon, nginx) is
on 127.0.0.1 and stopped by the benchmark itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def run_bench(name: str, *args: str, timeout: float = 90) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    proc = subprocess.run(
        [sys.executable, str(BENCH / name), "--smoke", *args], capture_output=True, text=True,
        timeout=timeout, cwd=BENCH.parent, env=env)
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert proc.stdout.startswith("machine: nproc="), proc.stdout[:500]
    return proc.stdout


def test_bench_poll_smoke() -> None:
    out = run_bench("bench_poll.py")
    assert "warm-up ours" in out
    # the table has the bare client and ours in every scenario, and the verdict
    rows = [line.split()[:3] for line in out.splitlines()]
    for scenario in (["c=16", "5%"], ["c=64", "5%"], ["c=16", "0%"]):
        for client in ("bare", "ours"):
            assert [*scenario, client] in rows, (scenario, client, out[-2000:])
    assert "target (ours within 2x of bare wall time):" in out
    # both clients saw the same changed share: ours stored as many new items as bare got 200s
    assert "'not-modified'" in out and "304:" in out


def test_soak_smoke() -> None:
    out = run_bench("soak.py")
    assert "soak result:" in out
    assert "slope" in out and "MB/h" in out


def test_bench_memory_smoke() -> None:
    out = run_bench("bench_memory.py")
    assert "built:" in out
    assert "target VmRSS <= 300 MB" in out
    for label in ("empty", "big"):
        assert any(line.split()[:1] == [label] and len(line.split()) == 3
                   for line in out.splitlines()), out[-1500:]
    assert " 0 failed" in out


@pytest.mark.skipif(not shutil.which("wrk") or not (shutil.which("nginx")
                                                    or Path("/usr/sbin/nginx").exists()),
                    reason="needs Debian's wrk and nginx (apt-get install -y wrk nginx)")
def test_bench_serve_smoke() -> None:
    out = run_bench("bench_serve.py")
    assert "conditional GET answers 304" in out
    for row in ("ours 200", "ours 304", "nginx(1) 200", "nginx(1) 304"):
        assert row in out
    assert "targets:" in out
