"""Shared pieces of the load benchmarks: the machine, processes, memory and a straight line.

The benchmarks measure real processes (`aggregator run`, `aggregator serve`, nginx, a feed
server), so they need the same small tools: what machine this is, a free loopback port, a
daemon started with its own config and stopped by its pid, its memory from /proc, and an
HTTP GET with a deadline. Loopback only; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def exit_on_sigterm() -> None:
    """Make SIGTERM unwind like Ctrl-C, so every child process is stopped on the way out."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def machine() -> str:
    """nproc, CPU model, memory and Python, for the report."""
    model = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return (f"machine: nproc={os.cpu_count()} cpu={model!r} mem={mem} "
            f"python={platform.python_version()} kernel={platform.release()}")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def aggregator_cmd() -> list[str]:
    """The installed `aggregator` console script beside this Python, else the module."""
    script = Path(sys.executable).with_name("aggregator")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from aggregator.cli import main; main()"]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without AGGREGATOR_* variables (they would override the benchmark's
    config file), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGGREGATOR_")}
    return {**env, **extra}


def write_config(path: Path, **settings: object) -> Path:
    lines = ["[aggregator]"]
    for key, value in settings.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int | float):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f"{key} = {str(value)!r}".replace("'", '"'))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def get(host: str, port: int, path: str, headers: dict[str, str] | None = None,
        timeout: float = 30.0) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def wait_http(host: str, port: int, path: str, proc: subprocess.Popen | None,
              deadline: float = 120.0) -> None:
    """Wait until GET path answers 200 (or the process dies, or the deadline passes)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before serving")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if get(host, port, path, timeout=5)[0] == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"http://{host}:{port}{path} did not answer within {deadline:g}s")


@contextlib.contextmanager
def process(cmd: Sequence[str], *, log: Path, cwd: Path | None = None,
            env: dict[str, str] | None = None, stop_timeout: float = 30.0
            ) -> Iterator[subprocess.Popen]:
    """A child process with stdout+stderr to `log`, stopped by SIGTERM (then SIGKILL)."""
    with log.open("ab") as out:
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                env=clean_env(**(env or {})))
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=stop_timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def status(pid: int) -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS) and friends from /proc/PID/status, in kB; Threads as a count.

    All zero for a process that has exited but not been reaped (a zombie has no memory)."""
    out = {"VmRSS": 0, "VmHWM": 0, "VmSize": 0, "RssAnon": 0, "RssFile": 0, "Threads": 0}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "VmSize", "RssAnon", "RssFile", "Threads"):
            out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares (slope, intercept) of y on x; slope 0 for fewer than two points."""
    n = len(xs)
    if n < 2:
        return 0.0, (ys[0] if ys else 0.0)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return 0.0, my
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    return slope, my - slope * mx
