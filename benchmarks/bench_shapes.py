"""Diagnosis agreement on markets shaped like real data (``make bench BENCH=shapes``).

Each shape of :mod:`windmaker.simulator.shapes` (300 brands × 12 months by default,
``WINDMAKER_BENCH_SHAPES_BRANDS`` / ``_MONTHS`` / ``_SEED`` / ``_ONLY`` to change) is simulated,
ingested, run through the main job and judged against its planted truth. The bar: stage
agreement ≥ 95 % overall and ≥ 90 % per true stage, bottleneck ≥ 80 %; on the loyalty market
flagged orders ≤ 0.1 % and no brand above 1 %; on planted rings precision and recall ≥ 0.9.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from windmaker.simulator.shapes import SHAPES, judge, markdown, shape


def main() -> str:
    brands = int(os.environ.get("WINDMAKER_BENCH_SHAPES_BRANDS", "300"))
    months = int(os.environ.get("WINDMAKER_BENCH_SHAPES_MONTHS", "12"))
    seed = int(os.environ.get("WINDMAKER_BENCH_SHAPES_SEED", "5"))
    only = os.environ.get("WINDMAKER_BENCH_SHAPES_ONLY")
    names = only.split(",") if only else list(SHAPES)
    results = []
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            r = judge(shape(name, brands, months, seed), Path(tmp))
        print(
            f"  {name}: stage {r.agreement.stage:.1%}, bottleneck {r.agreement.bottleneck:.1%}, "
            f"{r.seconds}",
            flush=True,
        )
        results.append(r)
    return (
        f"## Diagnosis on real-shaped markets (`make bench BENCH=shapes`), seed {seed}\n\n"
        + markdown(results)
    )
