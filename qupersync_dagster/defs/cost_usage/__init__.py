"""Cost-usage tables: one partitioned asset per configured table, plus the daily summary."""
