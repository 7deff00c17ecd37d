"""Alembic, which runs the migrations: loaded only when a schema is behind, as loading it
costs a quarter of a second of CPU that a process finding its schema current need not spend."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from epicstar.state.database import MIGRATIONS_DIR


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Run every migration the schema has not had yet."""
    command.upgrade(alembic_config(engine), "head")
