from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import Base
from tests.conftest import alembic_config


def model_changes(connection: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def table_names(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def test_models_and_migrations_agree(session: AsyncSession) -> None:
    connection = await session.connection()

    assert await connection.run_sync(model_changes) == []


async def test_downgrade_to_base_and_upgrade_again(session: AsyncSession) -> None:
    """PostgreSQL DDL is transactional: the test's rollback restores the schema."""
    connection = await session.connection()

    await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), "base"))
    assert await connection.run_sync(table_names) == set()

    await connection.run_sync(lambda sync: command.upgrade(alembic_config(sync), "head"))
    assert await connection.run_sync(table_names) == set(Base.metadata.tables)
