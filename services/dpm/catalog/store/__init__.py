"""The catalog's database: SQLAlchemy models and Alembic migrations."""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
