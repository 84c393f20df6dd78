"""The Dagster interface: resources, assets, checks, schedules and sensors."""
