"""The SparkSession a ``pyspark://`` warehouse runs on."""

from __future__ import annotations

from typing import Any


def spark_session(master: str) -> Any:
    """A SparkSession for ``master``; timestamps are kept as the stored wall clock (UTC session).

    On a local master the Python workers of per-group maps run this interpreter (which has
    windmaker); on a cluster, ``PYSPARK_PYTHON`` names the executors' interpreter, which needs
    windmaker installed (docs/scale-out.md).
    """
    import os
    import sys

    from pyspark.sql import SparkSession

    if master.startswith("local"):
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    return (
        SparkSession.builder.master(master)
        .appName("windmaker")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.driver.memory", "2g")
        .getOrCreate()
    )
