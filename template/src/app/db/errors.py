"""Which failures mean "the database is unavailable right now" (a 503), not a bug (a 500)."""

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# SQLSTATE classes: 08 connection exception, 53 insufficient resources (too many connections),
# 57 operator intervention (shutting down, starting up, statement timeout).
UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "53", "57"})


def has_unavailable_sqlstate(error: BaseException | None) -> bool:
    sqlstate = getattr(error, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in UNAVAILABLE_SQLSTATE_CLASSES


def is_database_unavailable(error: BaseException) -> bool:
    """Refused, unreachable, starting up, full, too slow, or gone mid-request.

    Drivers raise some of these unwrapped on connect (asyncpg's `CannotConnectNowError`), so the
    driver's own SQLSTATE is checked as well as SQLAlchemy's wrappers.
    """
    if isinstance(error, PoolTimeoutError | TimeoutError | OSError):
        return True
    if isinstance(error, DBAPIError):
        return (
            error.connection_invalidated
            or isinstance(error, OperationalError | InterfaceError)
            or has_unavailable_sqlstate(error.orig)
        )
    return has_unavailable_sqlstate(error)
