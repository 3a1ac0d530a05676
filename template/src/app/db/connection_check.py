"""Checking a pooled asyncpg connection before use, as `pool_pre_ping` would, without its round
trip on every checkout.

asyncpg reads every connection on the event loop, idle ones too: one the server closed (a
restart, `pg_terminate_backend`, an idle timeout) is already known to be closed. One left idle
longer than `PING_AFTER_IDLE_SECONDS` is pinged as well: a firewall or NAT that forgot it closes
nothing. Either way `DisconnectionError` makes the pool replace the connection.
"""

import time
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

# Firewalls and NATs forget idle connections after minutes, not seconds.
PING_AFTER_IDLE_SECONDS = 10.0
IDLE_SINCE = "idle_since"


def check_before_use(engine: AsyncEngine) -> None:
    event.listen(engine.sync_engine.pool, "checkin", note_idle_since)
    event.listen(engine.sync_engine.pool, "checkout", check_connection)


def note_idle_since(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    record.info[IDLE_SINCE] = time.monotonic()


def check_connection(
    dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection
) -> None:
    idle_since = record.info.pop(IDLE_SINCE, None)
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("closed by the server")
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return
    try:
        dbapi_connection.run_async(lambda connection: connection.fetchval("SELECT 1"))
    except Exception as error:
        raise DisconnectionError("no answer to a ping") from error
