"""The catalog database: ``*Row`` models, one repository per table family, Alembic migrations.

Repositories take the ``Session`` of the caller's unit of work
(``Database.write()`` / ``.read()``), hold the SQL and speak ``*Row`` models;
the rules live in the domain modules above (``dpm.catalog.*``).
"""

from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
