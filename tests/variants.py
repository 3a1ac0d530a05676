"""The answers a test can render, and the covering set that gets the full checks."""

import itertools
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Variant:
    db_driver: str = "asyncpg"
    db_pool: str = "queue"
    auth: bool = True
    example_resource: bool = True
    docker: bool = True

    @property
    def id(self) -> str:
        parts = [self.db_driver, f"pool-{self.db_pool}", "auth" if self.auth else "no-auth"]
        parts += ["items" if self.example_resource else "no-items"]
        parts += ["docker" if self.docker else "no-docker"]
        return "-".join(parts)

    @property
    def has_models(self) -> bool:
        return self.auth or self.example_resource

    def answers(self) -> dict[str, Any]:
        return {
            "project_name": "Demo Service",
            "db_driver": self.db_driver,
            "db_pool": self.db_pool,
            "auth": self.auth,
            "example_resource": self.example_resource,
            "docker": self.docker,
        }


ALL_VARIANTS = [
    Variant(*answers)
    for answers in itertools.product(
        ["asyncpg", "psycopg"], ["queue", "null"], [True, False], [True, False], [True, False]
    )
]

# Every value of every question, and every pair of driver x pool, driver x auth and
# pool x auth, in four variants (checked by test_covering_set_covers_every_pair).
FULL_VARIANTS = [
    Variant("asyncpg", "queue", auth=True, example_resource=True, docker=True),
    Variant("asyncpg", "null", auth=False, example_resource=True, docker=False),
    Variant("psycopg", "queue", auth=False, example_resource=False, docker=True),
    Variant("psycopg", "null", auth=True, example_resource=False, docker=False),
]
