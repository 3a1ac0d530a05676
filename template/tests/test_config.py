import pytest
from pydantic import ValidationError

from app.core.config import DATABASE_SCHEME, Settings, to_driver_url


@pytest.mark.parametrize(
    "url",
    [
        "postgres://user:pw@db:5432/app",
        "postgresql://user:pw@db:5432/app",
        f"{DATABASE_SCHEME}://user:pw@db:5432/app",
    ],
)
def test_database_urls_use_the_async_driver(url: str) -> None:
    assert to_driver_url(url) == f"{DATABASE_SCHEME}://user:pw@db:5432/app"


@pytest.mark.parametrize(
    "url", ["mysql://user@db/app", "postgresql+psycopg2://user@db/app", "db:5432/app"]
)
def test_other_database_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="expected a postgresql:// URL"):
        Settings(database_url=url)
