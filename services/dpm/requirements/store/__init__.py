"""The requirements database: SQLAlchemy models, the client repository, Alembic migrations."""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
