"""Alembic environment of the catalog database."""

from dpm.catalog.store.models import Base
from dpm.platform.db import run_migrations_online

run_migrations_online(Base)
