"""The PostgreSQL target: statements composed with ``psycopg2.sql``, SQLAlchemy for the pool.

Every use of the target goes through ``guard``; the sync state alone is SQLAlchemy Core (see
``state_store``).
"""
