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

A second phase repeats the load (scorecard and portfolio, interleaved) while heavy work runs
through the API: an operator uploads a Parquet file of ``UPLOAD_ROWS`` orders (``POST
/api/v1/ingest``, a job), and once it has landed starts a refresh (``POST /api/v1/refresh``). The
phase lasts exactly as long as the two jobs, so every latency in it was measured while one of
them ran; its p95 is the figure the API is held to (``UNDER_WORK_TARGET_MS``).

A third phase measures the dashboard's pages as people open them: ``PAGE_CLIENTS`` closed-loop
clients load ``/workbench`` and brand pages (``/brands/{id}``) in turn, first for ``SECONDS``
with nothing else running, then while the operator uploads ``UPLOAD_ROWS`` orders as a CSV file
(a second batch of new orders, ``POST /api/v1/ingest``); that part lasts exactly as long as the
upload job. Both p95s come from the same run; the pages are held to ``PAGE_TARGET_MS`` meanwhile.

Environment: ``WINDMAKER_BENCH_API_SECONDS`` (default 30), ``WINDMAKER_BENCH_API_CLIENTS``
(default 32), ``WINDMAKER_BENCH_API_BRANDS`` (default 500), ``WINDMAKER_BENCH_API_UPLOAD_ROWS``
(default 1,000,000), ``WINDMAKER_BENCH_API_PAGE_CLIENTS`` (default 2).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SECONDS = float(os.environ.get("WINDMAKER_BENCH_API_SECONDS", "30"))
CLIENTS = int(os.environ.get("WINDMAKER_BENCH_API_CLIENTS", "32"))
BRANDS = int(os.environ.get("WINDMAKER_BENCH_API_BRANDS", "500"))
UPLOAD_ROWS = int(os.environ.get("WINDMAKER_BENCH_API_UPLOAD_ROWS", "1000000"))
PAGE_CLIENTS = int(os.environ.get("WINDMAKER_BENCH_API_PAGE_CLIENTS", "2"))
#: p95 of the dashboard's pages while a CSV upload runs.
PAGE_TARGET_MS = 200.0
MONTHS = 12
PASSWORD = "bench-password"
TARGETS_MS = {"scorecard": 50.0, "portfolio": 150.0}
#: p95 of every endpoint while an upload and a refresh run.
UNDER_WORK_TARGET_MS = 250.0
#: The second phase stops by itself after this long even if a job never finishes.
UNDER_WORK_MAX_SECONDS = 600.0
SKUS_PER_BRAND, ACCOUNTS = 4, 2_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_workspace(folder: Path, brands: int = BRANDS, months: int = MONTHS) -> Path:
    """A workspace with ``brands`` × ``months`` of diagnosis results and two users:
    ``admin`` and ``operator`` (whose portfolio is every brand), password ``PASSWORD``."""
    from benchmarks.bench_diagnosis import synthetic_metrics
    from windmaker.growth import diagnosis as dx
    from windmaker.metrics.brand_period import METRIC_COLUMNS, TRAILING_COLUMNS
    from windmaker.services.configs import Configs
    from windmaker.store import create_user, engine_for, open_session, set_portfolio, upgrade
    from windmaker.views.records import BrandMetrics
    from windmaker.workspace import init_workspace, open_warehouse

    settings = init_workspace(folder)
    configs = Configs.of(settings)
    bm, cap = synthetic_metrics(brands, months, seed=7)
    bm["period"] = pd.to_datetime(bm["period"]).dt.date
    cap["period"] = pd.to_datetime(cap["period"]).dt.date
    rng = np.random.default_rng(7)
    # The rest of m_brand_month's columns, so a scorecard carries the full metric row.
    for col in (*METRIC_COLUMNS, *TRAILING_COLUMNS):
        if col not in bm.columns:
            bm[col] = np.abs(rng.normal(1e5, 3e4, len(bm)))
    bm["net_gmv"] = bm["net_gmv_t30d"]
    # Counts are whole numbers in m_brand_month: the scorecard's record refuses fractions.
    for col, field in BrandMetrics.model_fields.items():
        if col in bm.columns and field.annotation == (int | None):
            bm[col] = bm[col].round().astype("int64")
    result = dx.diagnose(bm, cap, configs.ladder, configs.playbook)
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
        wh.ensure_source_tables()
        wh.insert("brands", brand_table)
        # The SKUs and selling accounts the uploaded orders reference.
        con = wh.duckdb
        con.execute(
            f"INSERT INTO skus SELECT 'S' || i, 'B' || lpad(CAST(i // {SKUS_PER_BRAND} AS "
            f"VARCHAR), 6, '0'), NULL, 'food', 9.9, false, TIMESTAMP '2024-01-01' "
            f"FROM range({brands * SKUS_PER_BRAND}) t(i)"
        )
        con.execute(
            "INSERT INTO accounts SELECT 'A' || i, 'influencer', NULL, 'acc ' || i, 'food', "
            f"100, TIMESTAMP '2024-01-01' FROM range({ACCOUNTS}) t(i)"
        )
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


def orders_file(
    folder: Path,
    rows: int = UPLOAD_ROWS,
    brands: int = BRANDS,
    *,
    fmt: str = "parquet",
    prefix: str = "O",
) -> Path:
    """A Parquet (or CSV) file of ``rows`` orders (contract names and types) spread over every
    brand of the workspace and the 12 months its metrics cover, as a platform export would carry
    them; order ids start with ``prefix``, so two files are two batches of new orders."""
    import duckdb

    path = folder / f"orders-{prefix}.{fmt}"
    options = "FORMAT parquet" if fmt == "parquet" else "FORMAT csv, HEADER"
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(
        f"""COPY (
        SELECT '{prefix}' || i AS order_id,
            TIMESTAMP '2024-11-01' + INTERVAL (i * 31449 % 31536000) SECOND AS paid_at,
            'B' || lpad(CAST(i % {brands} AS VARCHAR), 6, '0') AS brand_id,
            'S' || ((i % {brands}) * {SKUS_PER_BRAND} + i // {brands} % {SKUS_PER_BRAND})
                AS sku_id,
            'A' || (i % {ACCOUNTS}) AS account_id,
            'U' || (hash(i) % 300000) AS buyer_id,
            ['推荐', '付费推广', '关注', '搜索', '其他'][1 + i % 5] AS traffic_source,
            1 + i % 3 AS quantity,
            CAST(round(((i * 7919) % 50000) / 100.0 + 1, 2) AS DECIMAL(18, 2)) AS amount,
            CAST(round(((i * 7919) % 5000) / 100.0, 2) AS DECIMAL(18, 2)) AS commission,
            ['已完成', '已发货', '已支付', '已完成', '已完成'][1 + i % 5] AS status
        FROM range({rows}) t(i)) TO '{path}' ({options})"""
    )
    con.close()
    return path


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
    base: str,
    token: str,
    paths: list[tuple[str, str]],
    clients: int,
    seconds: float,
    until: threading.Event | None = None,
) -> list[Load]:
    """The closed loop itself, on aiohttp: its C parser costs the client a fraction of what a
    pure-Python client does, so that on two cores the server, not the load generator, is what
    is measured.

    ``paths`` are (endpoint name, path) pairs taken round robin; one ``Load`` per name. The loop
    runs ``seconds``, or, given ``until``, until that event is set (at most ``seconds``)."""
    import aiohttp

    latencies: dict[str, list[float]] = {name: [] for name, _ in paths}
    errors = dict.fromkeys(latencies, 0)
    connector = aiohttp.TCPConnector(limit=clients)
    headers = {"Authorization": f"Bearer {token}"}
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        base, headers=headers, connector=connector, timeout=timeout
    ) as c:

        async def fetch(path: str) -> bool:
            async with c.get(path) as r:
                body = await r.read()
                return r.status == 200 and len(body) > 0

        # One warm-up request per client opens its connection outside the measured window.
        await asyncio.gather(*(fetch(paths[i % len(paths)][1]) for i in range(clients)))
        start = time.perf_counter()
        stop = start + seconds

        def going() -> bool:
            return time.perf_counter() < stop and not (until is not None and until.is_set())

        # The paths are dealt from one shared counter, so every client sends every kind of
        # request (with a stride of ``clients``, two clients on two interleaved endpoints
        # would each send only one of them, and one page's cost would be the other's wait).
        dealt = itertools.count(clients)

        async def client(k: int) -> None:
            i = k
            while going():
                name, path = paths[i % len(paths)]
                t0 = time.perf_counter()
                try:
                    ok = await fetch(path)
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                latencies[name].append((time.perf_counter() - t0) * 1000)
                errors[name] += not ok
                i = next(dealt)

        await asyncio.gather(*(client(k) for k in range(clients)))
        elapsed = time.perf_counter() - start
    return [
        Load(name, len(lat), errors[name], elapsed, np.asarray(lat))
        for name, lat in latencies.items()
    ]


def _cpu(p: Any) -> float:
    t = p.cpu_times()
    return float(t.user + t.system)


def drive(base: str, token: str, paths: list[str], name: str, server_pid: int) -> Load:
    """Load ``paths`` (round robin) with ``CLIENTS`` clients for ``SECONDS``; stops itself.

    CPU seconds of the server process and of this (client) process are taken around the run:
    on a machine with two cores, they tell whether the server or the load generator was the
    limit."""
    import psutil

    server, client = psutil.Process(server_pid), psutil.Process()
    s0, c0 = _cpu(server), _cpu(client)
    (load,) = asyncio.run(_drive(base, token, [(name, p) for p in paths], CLIENTS, SECONDS))
    return replace(load, server_cpu_s=_cpu(server) - s0, client_cpu_s=_cpu(client) - c0)


@dataclass
class Work:
    """The heavy jobs of the second phase as the API reported them."""

    upload_status: str = "not started"
    upload_accepted: int | None = None
    upload_s: float = float("nan")
    refresh_status: str = "not started"
    refresh_result: dict[str, Any] | None = None
    refresh_s: float = float("nan")
    error: str | None = None


def _await_job(c: Any, path: str, deadline: float) -> dict[str, Any]:
    while time.monotonic() < deadline:
        job: dict[str, Any] = c.get(path).raise_for_status().json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.5)
    raise TimeoutError(f"{path} did not finish")


def heavy_work(
    base: str,
    token: str,
    upload: Path,
    work: Work,
    done: threading.Event,
    refresh: bool = True,
) -> None:
    """Upload ``upload`` as a job, wait for it, start a refresh (unless ``refresh`` is false),
    wait for it; then ``done``."""
    import httpx2

    deadline = time.monotonic() + UNDER_WORK_MAX_SECONDS
    try:
        with httpx2.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
        ) as c:
            t0 = time.perf_counter()
            with upload.open("rb") as f:
                r = c.post(
                    "/api/v1/ingest",
                    files={"file": (upload.name, f, "application/octet-stream")},
                    data={"table": "orders"},
                )
            r.raise_for_status()
            job = _await_job(c, f"/api/v1/jobs/{r.json()['id']}", deadline)
            work.upload_s = time.perf_counter() - t0
            work.upload_status = job["status"]
            work.upload_accepted = (job.get("result") or {}).get("accepted")
            if job["status"] != "succeeded":
                work.error = job.get("error")
                return
            if not refresh:
                return
            t0 = time.perf_counter()
            r = c.post("/api/v1/refresh").raise_for_status()
            job = _await_job(c, f"/api/v1/refresh/{r.json()['id']}", deadline)
            work.refresh_s = time.perf_counter() - t0
            work.refresh_status = job["status"]
            result = job.get("result") or {}
            work.refresh_result = {k: result[k] for k in ("seconds", "brands") if k in result}
            work.error = job.get("error")
    except Exception as exc:  # reported in the table, never hidden
        work.error = f"{type(exc).__name__}: {exc}"
    finally:
        done.set()


def drive_under_work(
    base: str,
    token: str,
    paths: list[tuple[str, str]],
    server_pid: int,
    upload: Path,
    *,
    clients: int = CLIENTS,
    refresh: bool = True,
) -> tuple[list[Load], Work]:
    """The same closed loop while ``heavy_work`` runs in a thread; it stops when the work does."""
    import psutil

    server, client = psutil.Process(server_pid), psutil.Process()
    work, done = Work(), threading.Event()
    s0, c0 = _cpu(server), _cpu(client)
    worker = threading.Thread(
        target=heavy_work, args=(base, token, upload, work, done), kwargs={"refresh": refresh}
    )

    async def both() -> list[Load]:
        worker.start()
        return await _drive(base, token, paths, clients, UNDER_WORK_MAX_SECONDS, until=done)

    loads = asyncio.run(both())
    worker.join()
    s1, c1 = _cpu(server) - s0, _cpu(client) - c0
    total = sum(load.requests for load in loads)
    # CPU is shared by the endpoints of the interleaved load: split it by request count.
    return [
        replace(
            load,
            server_cpu_s=s1 * load.requests / total,
            client_cpu_s=c1 * load.requests / total,
        )
        for load in loads
    ], work


def login(base: str, username: str) -> str:
    import httpx2

    r = httpx2.post(
        f"{base}/api/v1/auth/login", json={"username": username, "password": PASSWORD}, timeout=30
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


def drive_pages(base: str, token: str, ids: list[str], server_pid: int, upload: Path) -> Pages:
    """The workbench and brand pages (interleaved 1:1) with ``PAGE_CLIENTS`` clients: for
    ``SECONDS`` with nothing else running, then while ``upload`` (a CSV) is ingested."""
    import psutil

    paths = [
        ("workbench page", "/workbench") if i % 2 == 0 else ("brand page", f"/brands/{b}")
        for i, b in enumerate(ids)
    ]
    server, client = psutil.Process(server_pid), psutil.Process()
    s0, c0 = _cpu(server), _cpu(client)
    idle = asyncio.run(_drive(base, token, paths, PAGE_CLIENTS, SECONDS))
    s1, c1 = _cpu(server) - s0, _cpu(client) - c0
    total = sum(load.requests for load in idle)
    idle = [
        replace(
            load,
            server_cpu_s=s1 * load.requests / total,
            client_cpu_s=c1 * load.requests / total,
        )
        for load in idle
    ]
    busy, work = drive_under_work(
        base, token, paths, server_pid, upload, clients=PAGE_CLIENTS, refresh=False
    )
    return Pages(idle, busy, work, upload.stat().st_size / 2**20)


@dataclass
class Pages:
    """The dashboard's pages with nothing else running and while a CSV upload runs."""

    idle: list[Load]
    under_upload: list[Load]
    work: Work
    upload_mib: float


@dataclass
class Results:
    loads: list[Load]
    under_work: list[Load]
    work: Work
    total: int
    pages: Pages


def run(workspace: Path, upload: Path, upload_csv: Path) -> Results:
    """Measure the reference, the scorecard and the portfolio against a server on ``workspace``,
    then the scorecard and the portfolio again while ``upload`` is ingested and a refresh runs;
    then the workbench and brand pages, idle and while ``upload_csv`` is ingested."""
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
        # Scorecards and the portfolio interleaved 4:1, about their ratio in phase one.
        mixed = [
            ("portfolio", "/api/v1/portfolio")
            if i % 5 == 4
            else ("scorecard", f"/api/v1/brands/{b}")
            for i, b in enumerate(ids)
        ]
        under_work, work = drive_under_work(server.url, token, mixed, pid, upload)
        pages = drive_pages(server.url, token, ids, pid, upload_csv)
    return Results(loads, under_work, work, int(portfolio["total"]), pages)


def _label(name: str, total: int) -> str:
    return {
        "scorecard": "GET /api/v1/brands/{id} (scorecard)",
        "portfolio": f"GET /api/v1/portfolio ({total} brands)",
    }.get(name, name)


def _row(load: Load, label: str, ref: Load, verdict: str) -> str:
    return (
        f"| {label} | {load.requests:,} | {load.errors} | {load.throughput:,.0f} req/s | "
        f"{load.pct(50):.1f} ms | {load.pct(95):.1f} ms | {load.pct(99):.1f} ms | "
        f"{load.pct(95) / ref.pct(95):.2f}× | {verdict} | "
        f"{load.server_cpu_s / max(load.requests, 1) * 1000:.2f} ms | "
        f"{load.client_cpu_s / max(load.requests, 1) * 1000:.2f} ms |"
    )


def _verdict(p95: float, target: float | None) -> str:
    if target is None:
        return "—"
    return f"≤ {target:g} ms ({'met' if p95 <= target else 'missed'})"


def _pages_section(pages: Pages) -> list[str]:
    """Pages idle and under a CSV upload, side by side: the same clients, the same run."""
    busy = {load.name: load for load in pages.under_upload}
    w = pages.work
    phase_s = pages.under_upload[0].seconds if pages.under_upload else float("nan")
    lines = [
        f"### Pages while a {UPLOAD_ROWS:,}-row CSV uploads ({pages.upload_mib:.0f} MiB, "
        f"{PAGE_CLIENTS} clients, idle {SECONDS:g} s, under upload {phase_s:.0f} s)",
        "",
        "| page | requests idle / under upload | errors | p50 idle | p95 idle | p50 under upload "
        "| p95 under upload | p99 under upload | target p95 under upload |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for idle in pages.idle:
        b = busy.get(idle.name)
        if b is None:
            continue
        lines.append(
            f"| {idle.name} | {idle.requests:,} / {b.requests:,} | {idle.errors + b.errors} | "
            f"{idle.pct(50):.1f} ms | {idle.pct(95):.1f} ms | {b.pct(50):.1f} ms | "
            f"**{b.pct(95):.1f} ms** | {b.pct(99):.1f} ms | {_verdict(b.pct(95), PAGE_TARGET_MS)} |"
        )
    lines += [
        "",
        f"CSV upload job: {w.upload_status}, {w.upload_accepted or 0:,} rows accepted, "
        f"{w.upload_s:.1f} s from POST to done." + (f" Error: {w.error}" if w.error else ""),
    ]
    return lines


def main() -> str:
    with tempfile.TemporaryDirectory(prefix="wm-bench-api-") as tmp:
        t = time.perf_counter()
        workspace = build_workspace(Path(tmp) / "ws")
        upload = orders_file(Path(tmp))
        upload_csv = orders_file(Path(tmp), fmt="csv", prefix="P")
        upload_mib = upload.stat().st_size / 2**20
        build_s = time.perf_counter() - t
        res = run(workspace, upload, upload_csv)
    ref = res.loads[0]
    header = [
        "| endpoint | requests | errors | throughput | p50 | p95 | p99 | p95 / reference p95 "
        "| target p95 | server CPU / request | client CPU / request |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    lines = [
        f"## JSON API under load ({res.total} brands in the operator's portfolio, {CLIENTS} "
        f"clients, {SECONDS:g} s per endpoint, loopback)",
        "",
        *header,
    ]
    for load in res.loads:
        target = TARGETS_MS.get(load.name)
        lines.append(_row(load, _label(load.name, res.total), ref, _verdict(load.pct(95), target)))
    w = res.work
    phase_s = res.under_work[0].seconds if res.under_work else float("nan")
    lines += [
        "",
        f"### Under work: an upload of {UPLOAD_ROWS:,} orders ({upload_mib:.0f} MiB Parquet) "
        f"then a refresh, through the API ({phase_s:.0f} s)",
        "",
        *header,
    ]
    for load in res.under_work:
        lines.append(
            _row(
                load,
                _label(load.name, res.total),
                ref,
                _verdict(load.pct(95), UNDER_WORK_TARGET_MS),
            )
        )
    lines += [
        "",
        f"Upload job: {w.upload_status}, {w.upload_accepted or 0:,} rows accepted, "
        f"{w.upload_s:.1f} s from POST to done. Refresh job: {w.refresh_status}, "
        f"{w.refresh_s:.1f} s, {w.refresh_result}." + (f" Error: {w.error}" if w.error else ""),
        "",
        *_pages_section(res.pages),
        "",
        f"Workspace: {BRANDS} brands × {MONTHS} months of synthetic metric frames diagnosed by "
        f"the real ladder ({build_s:.0f} s to build with the upload file, not timed in the "
        "tables). Server: `windmaker serve` (one uvicorn process) on 127.0.0.1; clients: one "
        "asyncio aiohttp client in the benchmark process, closed loop, operator token; CPU per "
        "request of each side from the processes' CPU times over the run (under work: split "
        "between the endpoints by request count).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(main())
