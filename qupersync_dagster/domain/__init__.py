"""The sync engine's rules, independent of drivers and of Dagster (standard library only)."""
