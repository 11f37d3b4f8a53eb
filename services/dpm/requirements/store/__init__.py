"""Storage of clients: SQLAlchemy models, the repository and Alembic migrations."""
