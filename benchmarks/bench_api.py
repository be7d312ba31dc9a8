"""JSON API under load on loopback: brand scorecard and the 500-brand portfolio.

The workspace holds 500 brands × 12 months of diagnosis results. The metric frames
(``m_brand_month``, ``m_capability``) are synthesised with numpy by the diagnosis benchmark's
generator (``bench_diagnosis.synthetic_metrics``: planted stage paths, metrics and capability
indices that follow them); the growth tables (``g_stage``, ``g_bottleneck``, ``g_plan``,
``g_portfolio``) are then computed from them by the real diagnosis (``growth.diagnosis``). A
simulate → ingest → pipeline run of 500 brands takes many minutes on this machine and would add
nothing the read path sees: the API serves the result tables only.

``windmaker serve`` runs in its own process on 127.0.0.1 (a free port). The load generator is
this process: ``CLIENTS`` coroutines on one ``aiohttp.ClientSession``, each sending its next request
as soon as the last one answered (a closed loop), for ``SECONDS`` per endpoint, with an
operator's bearer token; the operator's portfolio is all 500 brands. Latency is measured from
send to the full body read. The in-run reference is ``GET /api/v1/auth/me`` (authentication and
routing only, no read model) measured the same way: ratios to it separate the cost of the
endpoint from the cost of the machine.

Environment: ``WINDMAKER_BENCH_API_SECONDS`` (default 30), ``WINDMAKER_BENCH_API_CLIENTS``
(default 32), ``WINDMAKER_BENCH_API_BRANDS`` (default 500).
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

SECONDS = float(os.environ.get("WINDMAKER_BENCH_API_SECONDS", "30"))
CLIENTS = int(os.environ.get("WINDMAKER_BENCH_API_CLIENTS", "32"))
BRANDS = int(os.environ.get("WINDMAKER_BENCH_API_BRANDS", "500"))
MONTHS = 12
PASSWORD = "bench-password"
TARGETS_MS = {"scorecard": 50.0, "portfolio": 150.0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_workspace(folder: Path, brands: int = BRANDS, months: int = MONTHS) -> Path:
    """A workspace with ``brands`` × ``months`` of diagnosis results and two users:
    ``admin`` and ``operator`` (whose portfolio is every brand), password ``PASSWORD``."""
    from benchmarks.bench_diagnosis import synthetic_metrics
    from windmaker.growth import diagnosis as dx
    from windmaker.growth.config import load_ladder_config
    from windmaker.growth.plan import load_playbook
    from windmaker.metrics.brand_period import METRIC_COLUMNS, TRAILING_COLUMNS
    from windmaker.store import create_user, engine_for, open_session, set_portfolio, upgrade
    from windmaker.workspace import init_workspace, open_warehouse

    settings = init_workspace(folder)
    bm, cap = synthetic_metrics(brands, months, seed=7)
    bm["period"] = pd.to_datetime(bm["period"]).dt.date
    cap["period"] = pd.to_datetime(cap["period"]).dt.date
    rng = np.random.default_rng(7)
    # The rest of m_brand_month's columns, so a scorecard carries the full metric row.
    for col in (*METRIC_COLUMNS, *TRAILING_COLUMNS):
        if col not in bm.columns:
            bm[col] = np.abs(rng.normal(1e5, 3e4, len(bm)))
    bm["net_gmv"] = bm["net_gmv_t30d"]
    result = dx.diagnose(bm, cap, load_ladder_config(), load_playbook())
    ids = sorted(bm["brand_id"].unique())
    category = bm.drop_duplicates("brand_id").set_index("brand_id")["category"]
    brand_table = pd.DataFrame(
        {
            "brand_id": ids,
            "name": [f"品牌 {i[-4:]} Brand" for i in ids],
            "category": [category[i] for i in ids],
            "origin": "traditional",
            "joined_at": pd.Timestamp("2024-01-01"),
        }
    )
    with open_warehouse(settings) as wh:
        wh.insert("brands", brand_table)
        wh.write("m_brand_month", bm)
        wh.write("m_capability", cap)
        for name, table in dx.result_tables(result).items():
            wh.write(name, table)
    engine = engine_for(settings)
    upgrade(engine)
    with open_session(engine) as s:
        create_user(s, username="admin", password=PASSWORD, role="admin", actor="bench")
        create_user(s, username="operator", password=PASSWORD, role="operator", actor="bench")
        set_portfolio(s, username="operator", brand_ids=ids, actor="bench")
    engine.dispose()
    return settings.workspace


class Server:
    """``windmaker serve`` in a child process on 127.0.0.1, stopped on exit."""

    def __init__(self, workspace: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workspace = workspace
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        import httpx2

        cmd = [sys.executable, "-m", "windmaker.cli.main", "serve", "-w", str(self.workspace)]
        cmd += ["--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx2.get(f"{self.url}/api/v1/openapi.json", timeout=2).status_code == 200:
                    return self
            except httpx2.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass(frozen=True)
class Load:
    """What one endpoint did under ``clients`` closed-loop clients for ``seconds``."""

    name: str
    requests: int
    errors: int
    seconds: float
    latencies_ms: np.ndarray
    server_cpu_s: float = float("nan")
    client_cpu_s: float = float("nan")

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def pct(self, q: float) -> float:
        return (
            float(np.percentile(self.latencies_ms, q)) if len(self.latencies_ms) else float("nan")
        )


async def _drive(
    base: str, token: str, paths: list[str], name: str, clients: int, seconds: float
) -> Load:
    """The closed loop itself, on aiohttp: its C parser costs the client a fraction of what a
    pure-Python client does, so that on two cores the server, not the load generator, is what
    is measured."""
    import aiohttp

    latencies: list[float] = []
    errors = 0
    connector = aiohttp.TCPConnector(limit=clients)
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        base, headers=headers, connector=connector, timeout=timeout
    ) as c:

        async def fetch(path: str) -> bool:
            async with c.get(path) as r:
                body = await r.read()
                return r.status == 200 and len(body) > 0

        # One warm-up request per client opens its connection outside the measured window.
        await asyncio.gather(*(fetch(paths[i % len(paths)]) for i in range(clients)))
        start = time.perf_counter()
        stop = start + seconds

        async def client(k: int) -> None:
            nonlocal errors
            i = k
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                try:
                    ok = await fetch(paths[i % len(paths)])
                except aiohttp.ClientError:
                    ok = False
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += not ok
                i += clients

        await asyncio.gather(*(client(k) for k in range(clients)))
        elapsed = time.perf_counter() - start
    return Load(name, len(latencies), errors, elapsed, np.asarray(latencies))


def drive(base: str, token: str, paths: list[str], name: str, server_pid: int) -> Load:
    """Load ``paths`` (round robin) with ``CLIENTS`` clients for ``SECONDS``; stops itself.

    CPU seconds of the server process and of this (client) process are taken around the run:
    on a machine with two cores, they tell whether the server or the load generator was the
    limit."""
    import psutil

    server, client = psutil.Process(server_pid), psutil.Process()

    def cpu(p: psutil.Process) -> float:
        t = p.cpu_times()
        return float(t.user + t.system)

    s0, c0 = cpu(server), cpu(client)
    load = asyncio.run(_drive(base, token, paths, name, CLIENTS, SECONDS))
    return replace(load, server_cpu_s=cpu(server) - s0, client_cpu_s=cpu(client) - c0)


def login(base: str, username: str) -> str:
    import httpx2

    r = httpx2.post(
        f"{base}/api/v1/auth/login", json={"username": username, "password": PASSWORD}, timeout=30
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


def run(workspace: Path) -> tuple[list[Load], int]:
    """Measure the reference, the scorecard and the portfolio against a server on ``workspace``."""
    import httpx2

    with Server(workspace) as server:
        token = login(server.url, "operator")
        auth = {"Authorization": f"Bearer {token}"}
        portfolio = httpx2.get(f"{server.url}/api/v1/portfolio", headers=auth, timeout=30).json()
        ids = [b["brand_id"] for b in portfolio["items"]]
        assert server.proc is not None
        pid = server.proc.pid
        loads = [
            drive(server.url, token, ["/api/v1/auth/me"], "reference: GET /api/v1/auth/me", pid),
            drive(server.url, token, [f"/api/v1/brands/{b}" for b in ids], "scorecard", pid),
            drive(server.url, token, ["/api/v1/portfolio"], "portfolio", pid),
        ]
    return loads, int(portfolio["total"])


def main() -> str:
    with tempfile.TemporaryDirectory(prefix="wm-bench-api-") as tmp:
        t = time.perf_counter()
        workspace = build_workspace(Path(tmp) / "ws")
        build_s = time.perf_counter() - t
        loads, total = run(workspace)
    ref = loads[0]
    lines = [
        f"## JSON API under load ({total} brands in the operator's portfolio, {CLIENTS} clients, "
        f"{SECONDS:g} s per endpoint, loopback)",
        "",
        "| endpoint | requests | errors | throughput | p50 | p95 | p99 | p95 / reference p95 "
        "| target p95 | server CPU / request | client CPU / request |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for load in loads:
        target = TARGETS_MS.get(load.name)
        verdict = (
            "—"
            if target is None
            else f"≤ {target:g} ms ({'met' if load.pct(95) <= target else 'missed'})"
        )
        label = {
            "scorecard": "GET /api/v1/brands/{id} (scorecard)",
            "portfolio": f"GET /api/v1/portfolio ({total} brands)",
        }.get(load.name, load.name)
        lines.append(
            f"| {label} | {load.requests:,} | {load.errors} | {load.throughput:,.0f} req/s | "
            f"{load.pct(50):.1f} ms | {load.pct(95):.1f} ms | {load.pct(99):.1f} ms | "
            f"{load.pct(95) / ref.pct(95):.2f}× | {verdict} | "
            f"{load.server_cpu_s / load.requests * 1000:.2f} ms | "
            f"{load.client_cpu_s / load.requests * 1000:.2f} ms |"
        )
    lines += [
        "",
        f"Workspace: {BRANDS} brands × {MONTHS} months of synthetic metric frames diagnosed by "
        f"the real ladder ({build_s:.0f} s to build, not timed in the table). Server: "
        "`windmaker serve` (one uvicorn process) on 127.0.0.1; clients: one asyncio "
        "aiohttp client in the benchmark process, closed loop, operator token; CPU per "
        "request of each side from the processes' CPU times over the run.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
