"""Alembic environment: runs migrations on the engine epicstar hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from epicstar.state.models import Base

engine = context.config.attributes.get("engine")
if not isinstance(engine, Engine):
    raise RuntimeError("epicstar runs its migrations through epicstar.state.database.upgrade")

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
