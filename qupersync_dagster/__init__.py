"""QuperSync: mirror Amazon Redshift cost-usage tables into PostgreSQL with Dagster."""
