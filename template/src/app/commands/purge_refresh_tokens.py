"""Delete refresh tokens that can no longer be used: expired ones, and revoked ones kept a while.

    uv run python -m app.commands.purge_refresh_tokens [--keep-revoked-days 7]

Safe to run at any time and as often as you like (cron, a scheduled job); like Alembic, it
needs only `APP_DATABASE_URL`.
"""

import argparse
import asyncio
from datetime import timedelta

from app.core.config import DatabaseSettings, get_database_settings
from app.db.session import make_engine, make_sessionmaker
from app.services import refresh_tokens


async def purge(settings: DatabaseSettings, keep_revoked: timedelta) -> int:
    engine = make_engine(settings)
    try:
        async with make_sessionmaker(engine)() as session:
            return await refresh_tokens.purge(session, keep_revoked)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.commands.purge_refresh_tokens")
    parser.add_argument(
        "--keep-revoked-days",
        type=int,
        default=7,
        help="keep revoked tokens this many days, to see what was revoked (default: 7)",
    )
    args = parser.parse_args(argv)
    keep_revoked = timedelta(days=args.keep_revoked_days)
    deleted = asyncio.run(purge(get_database_settings(), keep_revoked))
    print(f"Deleted {deleted} refresh tokens")


if __name__ == "__main__":
    main()
