"""The PostgreSQL target: psycopg2 for COPY, SQLAlchemy Core for everything else."""
