"""Alembic environment: migrations run against the URL the caller configured, with gouji's metadata."""

from __future__ import annotations

from alembic import context

from gouji.worker.store.db import engine
from gouji.worker.store.models import Base

config = context.config
url = config.get_main_option("sqlalchemy.url") or ""

if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    with engine(url).connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
