"""A line-based SQL console for benchmarks/users_me.py, run in the rendered project's environment.

One autocommit asyncpg connection to the URL in argv[1]; each line on stdin is one statement,
answered on stdout by one JSON line: the first column of the first row, or null. The benchmark
keeps one open so that reading statistics between rounds starts no process.
"""

import asyncio
import json
import sys

import asyncpg


async def main(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        for line in sys.stdin:
            value = await connection.fetchval(line)
            print(json.dumps(value, default=str), flush=True)
    finally:
        await connection.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
