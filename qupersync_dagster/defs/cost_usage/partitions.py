"""Daily partitions shared by a table's asset, checks, schedule and sensor."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from qupersync_dagster.domain.entities import PartitionWindow


def daily_partitions(start_date: date) -> dg.DailyPartitionsDefinition:
    # end_offset=1: today's partition exists, since CUR keeps delivering the current day.
    return dg.DailyPartitionsDefinition(start_date=start_date.isoformat(), end_offset=1)


def window_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> PartitionWindow:
    """The run's partition range as a half-open date window."""
    keys = context.partition_key_range
    return PartitionWindow(
        date.fromisoformat(keys.start), date.fromisoformat(keys.end) + timedelta(days=1)
    )
