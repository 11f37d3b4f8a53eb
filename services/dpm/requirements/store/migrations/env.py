from dpm.platform.db import run_migrations_online
from dpm.requirements.store.models import Base

run_migrations_online(Base)
