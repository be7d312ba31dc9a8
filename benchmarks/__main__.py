"""Run benchmarks: ``python -m benchmarks [NAME ...]`` (``make bench BENCH=metrics``).

Each ``benchmarks/bench_NAME.py`` exposes ``main() -> str``, which returns a Markdown section;
the sections are printed and written to ``.bench/latest.md`` for BENCHMARKS.md.
"""

from __future__ import annotations

import importlib
import pkgutil
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

import benchmarks


def _machine() -> str:
    import os

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}"


def main(argv: list[str]) -> int:
    names = argv or sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules(benchmarks.__path__)
        if m.name.startswith("bench_")
    )
    out = [f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {_machine()}", ""]
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"== {name}", flush=True)
        section = module.main()
        print(section, flush=True)
        out += [section, ""]
    Path(".bench").mkdir(exist_ok=True)
    Path(".bench/latest.md").write_text("\n".join(out), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
