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
    ci: str = "github"

    @property
    def id(self) -> str:
        parts = [self.db_driver, f"pool-{self.db_pool}", "auth" if self.auth else "no-auth"]
        parts += ["items" if self.example_resource else "no-items"]
        parts += ["docker" if self.docker else "no-docker", f"ci-{self.ci}"]
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
            "ci": self.ci,
        }


CI_CHOICES = ["github", "gitlab", "none"]

# Every combination of the other answers (32), each with the next CI choice in turn: every CI
# choice meets every value of every other question, without tripling the static checks (96).
ALL_VARIANTS = [
    Variant(*answers, ci=CI_CHOICES[index % len(CI_CHOICES)])
    for index, answers in enumerate(
        itertools.product(
            ["asyncpg", "psycopg"], ["queue", "null"], [True, False], [True, False], [True, False]
        )
    )
]

# Every value of every question, and every pair of driver x pool, driver x auth and
# pool x auth, in four variants (checked by test_covering_set_covers_every_pair).
FULL_VARIANTS = [
    Variant("asyncpg", "queue", auth=True, example_resource=True, docker=True, ci="github"),
    Variant("asyncpg", "null", auth=False, example_resource=True, docker=False, ci="gitlab"),
    Variant("psycopg", "queue", auth=False, example_resource=False, docker=True, ci="gitlab"),
    Variant("psycopg", "null", auth=True, example_resource=False, docker=False, ci="none"),
]

# The rendered CI files, for the validators: every CI choice that renders one, with and
# without docker and auth (the answers that change what they contain).
CI_VARIANTS = list(
    {(v.ci, v.docker, v.auth): v for v in reversed(ALL_VARIANTS) if v.ci != "none"}.values()
)
