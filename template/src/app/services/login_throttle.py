"""Failed logins counted per account and per client address, in PostgreSQL.

Counts in the database hold across workers and replicas, with no other server to run. A login
is refused before any Argon2 work when either count has reached its limit; otherwise it counts
as a failure from the start, so that logins racing past the check in other workers are counted
each, and gets that failure back when it succeeds. A window is fixed: its first failure starts
it, and a refused client may try again when it ends.
"""

import ipaddress
import math
from collections.abc import Sequence
from datetime import timedelta
from hashlib import sha256

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.exceptions import TooManyAttemptsError
from app.repositories import login_throttle
from app.repositories.login_throttle import ThrottleCount, ThrottleKey

ACCOUNT = "account"
ADDRESS = "address"


def address_key(host: str) -> str:
    """An IPv6 client is given a whole /64, so it counts as one address."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def digest(value: str) -> str:
    return sha256(value.encode()).hexdigest()


def throttle_keys(account: str, address: str | None) -> list[ThrottleKey]:
    """The account is its normalised e-mail address; a client without an address has no key."""
    keys = [(ACCOUNT, digest(account))]
    if address is not None:
        keys.append((ADDRESS, digest(address_key(address))))
    return keys


def window(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.login_window_seconds)


def refuse_over_limit(counts: Sequence[ThrottleCount], settings: Settings, pending: int) -> None:
    """Raise when `pending` more failures would take a count over its limit."""
    limits = {
        ACCOUNT: settings.login_failures_per_account,
        ADDRESS: settings.login_failures_per_address,
    }
    waits = [left for kind, failures, left in counts if failures + pending > limits[kind]]
    if waits:
        raise TooManyAttemptsError(retry_after=max(1, math.ceil(max(waits).total_seconds())))


async def check(session: AsyncSession, settings: Settings, keys: Sequence[ThrottleKey]) -> None:
    """One indexed read: a refused login costs no more than this."""
    counts = await login_throttle.get_counts(session, keys, window(settings))
    refuse_over_limit(counts, settings, pending=1)


async def count_attempt(
    session: AsyncSession, settings: Settings, keys: Sequence[ThrottleKey]
) -> None:
    """Count the attempt as failed until it succeeds; refuse it if others got there first."""
    counts = await login_throttle.add_failure(session, keys, window(settings))
    refuse_over_limit(counts, settings, pending=0)


async def succeeded(session: AsyncSession, keys: Sequence[ThrottleKey]) -> None:
    """The account starts afresh; the address gets back the failure counted in advance."""
    for kind, key in keys:
        if kind == ACCOUNT:
            await login_throttle.remove(session, (kind, key))
        else:
            await login_throttle.take_back_failure(session, (kind, key))


async def failed(session: AsyncSession, settings: Settings) -> None:
    """Already counted; tidy up rows of windows that have ended, a few at a time."""
    await login_throttle.delete_expired(session, window(settings))
