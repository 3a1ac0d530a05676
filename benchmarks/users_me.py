"""Benchmark `GET /users/me`: the rendered service against a bare Starlette + asyncpg reference.

    uv run python -m benchmarks.users_me [--rounds 3] [--duration 10] [--connections 32]

Renders the default variant (or takes `--project`), installs it, migrates a fresh database,
registers a user, then drives the service and the reference (benchmarks/reference.py, the same
work with no framework) with wrk in interleaved rounds on the same database, and prints req/s,
p50/p99, errors, the connections each app opened after its warm-up, and the ratio. See README.md,
"Benchmark".
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
# What makes up the template (as in tests/conftest.py); the rest of the repository is tooling.
TEMPLATE_PATHS = ("copier.yml", "template", "extensions", "upgrades")
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PROJECT_NAME = "Bench Service"
USER_EMAIL = "bench@example.com"
USER_PASSWORD = "bench-password-0123"
PATH = "/users/me"
# Uvicorn as the benchmark runs both apps: one worker, uvloop, httptools, no access log.
UVICORN_OPTIONS = [
    *("--loop", "uvloop", "--http", "httptools"),
    *("--no-access-log", "--log-level", "warning"),
]

# Warm-up rounds per app at most: the first at twice the load, then until one opens none.
MAX_WARMUPS = 6

# Reads the service's effective settings, in its own environment.
SETTINGS_PROBE = """
import json
from app.core.config import get_settings

settings = get_settings()
print(json.dumps({
    "pool_size": getattr(settings, "db_pool_size", None),
    "max_overflow": getattr(settings, "db_max_overflow", None),
    "jwt_issuer": settings.jwt_issuer,
    "jwt_audience": settings.jwt_audience,
}))
"""


class BenchmarkError(Exception):
    """A step failed; the message says which and shows its output."""


def project_env(**extra: str) -> dict[str, str]:
    """The environment for commands in the rendered project: not this repository's virtualenv."""
    env = {key: value for key, value in os.environ.items() if key != "VIRTUAL_ENV"}
    if "PYENV_VERSION" not in env and shutil.which("pyenv"):
        # pyenv's shims (uv among them) refuse a .python-version that pyenv lacks.
        version = subprocess.run(["pyenv", "global"], capture_output=True, text=True, check=False)
        if version.returncode == 0:
            env["PYENV_VERSION"] = version.stdout.strip()
    return env | extra


def run(args: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        list(args),
        cwd=cwd,
        env=env or project_env(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        output = result.stdout + result.stderr
        raise BenchmarkError(f"{' '.join(args)} exited {result.returncode}:\n{output}")
    return result.stdout


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_answer(item: str) -> tuple[str, Any]:
    key, separator, value = item.partition("=")
    if not separator:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {item!r}")
    if value.lower() in {"true", "false"}:
        return key, value.lower() == "true"
    return key, value


def parse_env(item: str) -> tuple[str, str]:
    key, separator, value = item.partition("=")
    if not separator:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {item!r}")
    return key, value


def render(destination: Path, answers: dict[str, Any]) -> Path:
    """Render from a plain copy of the template's files: the working tree, no git, no warning."""
    from copier import run_copy  # a slow import, needed only here

    source = destination.parent / "template-source"
    source.mkdir()
    for name in TEMPLATE_PATHS:
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, source / name)
        else:
            shutil.copy2(REPO_ROOT / name, source / name)
    data = {"project_name": PROJECT_NAME} | answers
    run_copy(str(source), destination, data=data, defaults=True, unsafe=True, quiet=True)
    return destination


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def plain_url(url: str) -> str:
    """`postgresql+asyncpg://...` or `postgres://...` as the plain URL asyncpg takes."""
    _, separator, rest = url.partition("://")
    if not separator:
        raise BenchmarkError(f"not a database URL: {url!r}")
    return f"postgresql://{rest}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A process started in its own process group, stopped with its children."""

    name: str
    args: list[str]
    cwd: Path
    env: dict[str, str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, seconds: float = 30) -> None:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                self.args,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError(f"{self.name} exited early:\n{self.log.read_text()}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise BenchmarkError(f"{self.name}: nothing listens on port {self.port} after {seconds} s")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server's processes (Linux /proc; else None)."""
        if self.process is None or not Path("/proc/self/stat").exists():
            return None
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # After "(comm)": state ppid pgrp ... utime stime are fields 14 and 15.
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:
                continue  # gone in the meantime
            if int(fields[2]) == self.process.pid:  # its process group, children included
                total += int(fields[11]) + int(fields[12])
        return total / ticks


class SqlConsole:
    """benchmarks/sql_console.py, kept open: one statement per line, one JSON value back."""

    def __init__(self, python: list[str], cwd: Path, url: str) -> None:
        self.process = subprocess.Popen(
            [*python, str(HERE / "sql_console.py"), plain_url(url)],
            cwd=cwd,
            env=project_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def value(self, sql: str) -> Any:
        stdin: IO[str] | None = self.process.stdin
        stdout: IO[str] | None = self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(" ".join(sql.split()) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            raise BenchmarkError(f"the SQL console exited on: {sql}")
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=15)


def http_json(url: str, data: bytes, content_type: str) -> Any:
    request = urllib.request.Request(url, data=data, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        raise BenchmarkError(f"POST {url}: {error.code} {error.read().decode()}") from error


def get_json(url: str, token: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        raise BenchmarkError(f"GET {url}: {error.code} {error.read().decode()}") from error


def obtain_token(service: Server) -> str:
    """Register the benchmark's user and log in, through the service's own API."""
    body = json.dumps({"email": USER_EMAIL, "password": USER_PASSWORD}).encode()
    http_json(f"{service.url}/auth/register", body, "application/json")
    form = urllib.parse.urlencode({"username": USER_EMAIL, "password": USER_PASSWORD}).encode()
    token = http_json(f"{service.url}/auth/token", form, "application/x-www-form-urlencoded")
    return str(token["access_token"])


def same_user(service: dict[str, Any], reference: dict[str, Any]) -> bool:
    """Both answers name the same user (timestamps may be spelled `Z` or `+00:00`)."""

    def normal(user: dict[str, Any]) -> tuple[Any, ...]:
        return (user["id"], user["email"], datetime.fromisoformat(user["created_at"]))

    return service.keys() == reference.keys() and normal(service) == normal(reference)


@dataclass
class Round:
    app: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    error_kinds: dict[str, int]
    connections_opened: int
    cpu_seconds: float | None = None

    @property
    def cpu_ms_per_request(self) -> float | None:
        if self.cpu_seconds is None or not self.requests:
            return None
        return self.cpu_seconds * 1000 / self.requests

    @property
    def errors(self) -> int:
        return sum(self.error_kinds.values())

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


@dataclass
class Load:
    """wrk's settings for every round."""

    connections: int
    threads: int
    env: dict[str, str] = field(default_factory=dict)

    def run(self, url: str, seconds: int) -> dict[str, int]:
        args = ["wrk", f"-t{self.threads}", f"-c{self.connections}", f"-d{seconds}s"]
        args += ["--latency", "-s", str(HERE / "users_me.lua"), url + PATH]
        output = run(args, cwd=HERE, env=os.environ | self.env)
        for line in output.splitlines():
            if line.startswith("BENCH_JSON "):
                result: dict[str, int] = json.loads(line.removeprefix("BENCH_JSON "))
                return result
        raise BenchmarkError(f"no summary line in wrk's output:\n{output}")


def measure(app: Server, load: Load, seconds: int, console: SqlConsole, database: str) -> Round:
    sessions_sql = f"SELECT sessions FROM pg_stat_database WHERE datname = '{database}'"
    before = int(console.value(sessions_sql))
    cpu_before = app.cpu_seconds()
    result = load.run(app.url, seconds)
    cpu_after = app.cpu_seconds()
    # Backends report their session to the statistics when they first go idle or exit.
    time.sleep(1)
    after = int(console.value(sessions_sql))
    kinds = ("non_2xx", "connect", "read", "write", "timeout")
    return Round(
        app=app.name,
        requests=result["requests"],
        seconds=result["duration_us"] / 1e6,
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        max_ms=result["max_us"] / 1000,
        error_kinds={kind: result[kind] for kind in kinds if result[kind]},
        connections_opened=after - before,
        cpu_seconds=None if cpu_before is None or cpu_after is None else cpu_after - cpu_before,
    )


@contextmanager
def pgbouncer(server_url: str, pool_size: int) -> Iterator[str]:
    """PgBouncer in transaction mode in front of the server, as the template's tests run it.

    Its folder is a fresh one directly under the temporary directory: run as `postgres` (it
    refuses root), PgBouncer could not enter a folder inside the benchmark's, private to root.
    """
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        raise BenchmarkError("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    server = urllib.parse.urlsplit(server_url)
    user = server.username or "postgres"
    folder = Path(tempfile.mkdtemp(prefix="bench-pgbouncer-"))
    port = free_port()
    log = folder / "pgbouncer.log"
    (folder / "users.txt").write_text(f'"{user}" ""\n')
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={server.hostname or "127.0.0.1"} port={server.port or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "users.txt"}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 1000
ignore_startup_parameters = extra_float_digits,options
logfile = {log}
"""
    )
    command = [binary, str(folder / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer refuses to run as root.
        shutil.chown(folder, "postgres")
        for path in folder.iterdir():
            shutil.chown(path, "postgres")
        command = ["runuser", "-u", "postgres", "--", *command]
    bouncer = Server("pgbouncer", command, folder, dict(os.environ), port, folder / "stdout.log")
    try:
        bouncer.start()
        yield f"postgresql://{user}@127.0.0.1:{port}"
    finally:
        bouncer.stop()
        shutil.rmtree(folder, ignore_errors=True)


def interpreter(project: Path, extra: Sequence[str] = ()) -> list[str]:
    """The command that runs the project's Python (with `extra` packages if it lacks them)."""
    if not extra:
        out = run(
            ["uv", "run", "--no-sync", "python", "-c", "import sys; print(sys.executable)"], project
        )
        return [out.strip()]
    return ["uv", "run", "--no-sync", *(f"--with={name}" for name in extra), "python"]


def missing_packages(python: list[str], project: Path) -> list[str]:
    probe = (
        "import importlib.util as u; print(*[m for m in ('asyncpg', 'jwt') if not u.find_spec(m)])"
    )
    out = run([*python, "-c", probe], project).split()
    return [{"jwt": "pyjwt"}.get(name, name) for name in out]


def load_average() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def template_version() -> str:
    described = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return described.stdout.strip() or "unknown"


def cpu_text(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def report(rounds: list[Round], warmups: list[Round], context: str, loads: list[str]) -> int:
    """Print the table; return the number of errors (warm-up rounds included)."""
    median = statistics.median
    names = [rounds[0].app, rounds[1].app]
    print()
    print(context)
    print("per round:")
    columns = f"{'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'errors':>7} {'conns':>6}"
    print(f"  {'app':<10} {columns} {'cpu ms/req':>10}")
    for item in rounds:
        print(
            f"  {item.app:<10} {item.rps:>9.0f} {item.p50_ms:>8.2f} {item.p99_ms:>8.2f}"
            f" {item.max_ms:>8.1f} {item.errors:>7} {item.connections_opened:>6}"
            f" {cpu_text(item.cpu_ms_per_request):>10}"
            + "".join(f" {kind}: {count}" for kind, count in item.error_kinds.items())
        )
    print()
    header = (
        f"{'app':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'conns opened':>13}"
        f" {'cpu ms/req':>10}"
    )
    print(f"median of {len(rounds) // 2} rounds each (errors and connections: totals):")
    print(header)
    medians: dict[str, float] = {}
    cpu_medians: dict[str, float | None] = {}
    for name in names:
        mine = [item for item in rounds if item.app == name]
        medians[name] = median([item.rps for item in mine])
        cpu = [i.cpu_ms_per_request for i in mine if i.cpu_ms_per_request is not None]
        cpu_medians[name] = median(cpu) if cpu else None
        print(
            f"{name:<10} {medians[name]:>9.0f} {median([i.p50_ms for i in mine]):>8.2f}"
            f" {median([i.p99_ms for i in mine]):>8.2f} {sum(i.errors for i in mine):>7}"
            f" {sum(i.connections_opened for i in mine):>13} {cpu_text(cpu_medians[name]):>10}"
        )
    service, reference = names
    paired = [rounds[i].rps / rounds[i + 1].rps for i in range(0, len(rounds) - 1, 2)]
    print()
    print(f"ratio service/reference (median req/s): {medians[service] / medians[reference]:.2f}x")
    print(f"  per round pair: {', '.join(f'{r:.2f}' for r in paired)}")
    service_cpu, reference_cpu = cpu_medians[service], cpu_medians[reference]
    if service_cpu and reference_cpu:
        print(
            f"CPU per request, reference/service (the apps' own processes): "
            f"{reference_cpu / service_cpu:.2f}x"
        )
    for name in names:
        opened = [str(item.connections_opened) for item in warmups if item.app == name]
        print(f"warm-up rounds of {name}: {len(opened)} (connections opened: {', '.join(opened)})")
    warmup_errors = sum(item.errors for item in warmups)
    for item in warmups:
        if item.errors:
            print(f"errors during {item.app}'s warm-up: {item.error_kinds}")
    before, after = loads
    print(f"load average (1, 5, 15 min): before {before}, after {after}; {os.cpu_count()} CPUs")
    return warmup_errors + sum(item.errors for item in rounds)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.users_me",
        description="GET /users/me: the rendered service against a bare Starlette + asyncpg app.",
    )
    parser.add_argument(
        "--database-url",
        default=DEFAULT_DATABASE_URL,
        help="a PostgreSQL server (any database); the benchmark makes its own",
    )
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds per app (>= 1)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per round")
    parser.add_argument(
        "--warmup",
        type=int,
        default=5,
        help="seconds per warm-up round (one at twice the connections, then until one opens none)",
    )
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--project", type=Path, help="benchmark this rendered project instead of rendering one"
    )
    parser.add_argument(
        "--data",
        type=parse_answer,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an answer for the rendered variant (repeatable)",
    )
    parser.add_argument(
        "--env",
        type=parse_env,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra setting for the service, e.g. APP_DB_POOL_SIZE=32",
    )
    parser.add_argument(
        "--pgbouncer",
        action="store_true",
        help="run the service through a PgBouncer in transaction mode",
    )
    parser.add_argument(
        "--pgbouncer-pool-size",
        type=int,
        help="PgBouncer's server connections (default: the reference's pool size)",
    )
    parser.add_argument(
        "--reference-pool-size",
        type=int,
        help="the reference's pool (default: the service's db_pool_size, else 10)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the rendered project (its path is printed) for --project",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="FILE",
        help="after the rounds, one more service round under py-spy into FILE"
        " (.svg flame graph, .json speedscope, else raw collapsed stacks)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.project and args.data:
        parser.error("--data applies to the rendered variant; not with --project")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not shutil.which("wrk"):
        raise BenchmarkError("wrk is not installed (apt-get install wrk, brew install wrk)")
    folder = Path(tempfile.mkdtemp(prefix="bench-users-me-"))
    database = f"bench_users_me_{secrets.token_hex(4)}"
    with ExitStack() as cleanup:
        keep = args.keep  # and after errors: the servers' logs are there

        def remove_folder() -> None:
            if not keep:
                shutil.rmtree(folder, ignore_errors=True)

        cleanup.callback(remove_folder)
        if args.project:
            project = args.project.resolve()
            subject = f"project {project}"
        else:
            answers = " ".join(f"{key}={value}" for key, value in args.data) or "defaults"
            subject = f"template {template_version()} ({answers})"
            say(f"rendering {PROJECT_NAME!r} ({answers}) into {folder / 'project'}")
            project = render(folder / "project", dict(args.data))
            run(["uv", "sync"], project)
        service_python = interpreter(project)
        missing = missing_packages(service_python, project)
        reference_python = interpreter(project, missing) if missing else service_python

        console = SqlConsole(reference_python, project, args.database_url)
        cleanup.callback(console.close)
        console.value(f'CREATE DATABASE "{database}"')
        cleanup.callback(console.value, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        direct_url = with_database(plain_url(args.database_url), database)
        secret = secrets.token_urlsafe(48)
        service_env = project_env(
            APP_DATABASE_URL=direct_url,
            APP_JWT_SECRET=secret,
            APP_TRUSTED_HOSTS='["127.0.0.1", "localhost"]',
            # Long enough for any run: one token serves every round.
            APP_ACCESS_TOKEN_TTL_MINUTES="1440",
        ) | dict(args.env)
        say(f"migrating database {database}")
        run(["uv", "run", "--no-sync", "alembic", "upgrade", "head"], project, service_env)
        settings = json.loads(run([*service_python, "-c", SETTINGS_PROBE], project, service_env))
        pool_size = args.reference_pool_size or settings["pool_size"] or 10
        service_pool = (
            f"{settings['pool_size']} + {settings['max_overflow']} overflow"
            if settings["pool_size"]
            else "none (NullPool)"
        )

        if args.pgbouncer:
            bouncer_url = cleanup.enter_context(
                pgbouncer(args.database_url, args.pgbouncer_pool_size or pool_size)
            )
            service_env["APP_DATABASE_URL"] = f"{bouncer_url}/{database}"

        uvicorn = ["-m", "uvicorn", "--host", "127.0.0.1", *UVICORN_OPTIONS]
        port = free_port()
        service = Server(
            "service",
            [*service_python, *uvicorn, "--port", str(port), "app.asgi:app"],
            project,
            service_env,
            port,
            folder / "service.log",
        )
        port = free_port()
        reference = Server(
            "reference",
            [
                *reference_python,
                *uvicorn,
                "--port",
                str(port),
                "--app-dir",
                str(HERE),
                "reference:app",
            ],
            project,
            project_env(
                BENCH_DATABASE_URL=direct_url,
                BENCH_POOL_SIZE=str(pool_size),
                BENCH_JWT_SECRET=secret,
                BENCH_JWT_ISSUER=settings["jwt_issuer"],
                BENCH_JWT_AUDIENCE=settings["jwt_audience"],
            ),
            port,
            folder / "reference.log",
        )
        for server in (service, reference):
            cleanup.callback(server.stop)
            server.start()

        token = obtain_token(service)
        users = get_json(service.url + PATH, token), get_json(reference.url + PATH, token)
        if not same_user(*users):
            raise BenchmarkError(f"the apps disagree on {PATH}: {users}")
        say(
            f"service pool: {service_pool};"
            f" reference pool: {pool_size}; database {database}"
            + (" (service through PgBouncer)" if args.pgbouncer else "")
        )

        load = Load(args.connections, args.threads, {"BENCH_TOKEN": token})
        load_before = load_average()
        warmups: list[Round] = []
        # A pool opens connections as the load first needs them: the first warm-up round, at
        # twice the connections, opens all it keeps (and overflow ones, closed as they return);
        # the next ones, at the measured load, run until one opens none.
        heavy = Load(2 * args.connections, args.threads, load.env)
        for app in (service, reference):
            for number in range(1, MAX_WARMUPS + 1):
                item = measure(app, heavy if number == 1 else load, args.warmup, console, database)
                warmups.append(item)
                say(
                    f"warm-up {number}: {app.name}, {args.warmup} s,"
                    f" {item.connections_opened} connections opened"
                )
                if number > 1 and item.connections_opened == 0:
                    break
        rounds: list[Round] = []
        for number in range(1, args.rounds + 1):
            for app in (service, reference):
                item = measure(app, load, args.duration, console, database)
                rounds.append(item)
                say(
                    f"round {number}: {app.name:<9} {item.rps:8.0f} req/s, p99 {item.p99_ms:.1f} ms"
                )
        load_after = load_average()
        if args.profile:
            profile(service, load, args.duration, args.profile)
        context = (
            f"GET {PATH}, {subject}:"
            f" wrk {args.connections} connections, {args.threads} threads,"
            f" {args.duration} s rounds after {args.warmup} s warm-up rounds;"
            f" service pool {service_pool}"
            + (", through PgBouncer" if args.pgbouncer else "")
            + f"; reference pool {pool_size}"
        )
        errors = report(rounds, warmups, context, [load_before, load_after])
        keep = keep or errors > 0
        if keep:
            say(f"kept the project (--project {project}) and logs in {folder}")
        for server in (service, reference):
            if server.process and server.process.poll() is not None:
                raise BenchmarkError(f"{server.name} died:\n{server.log.read_text()}")
    return 1 if errors else 0


def profile(service: Server, load: Load, seconds: int, output: Path) -> None:
    """One more round of load on the service while py-spy samples it."""
    assert service.process is not None
    kind = {".svg": "flamegraph", ".json": "speedscope"}.get(output.suffix, "raw")
    args = ["uvx", "py-spy", "record", "--pid", str(service.process.pid), "--format", kind, "--gil"]
    args += [
        "--duration",
        str(int(seconds) + 2),
        "--output",
        str(output.resolve()),
        "--nonblocking",
    ]
    say(f"profiling the service into {output}")
    spy = subprocess.Popen(args, env=project_env(), stdout=subprocess.DEVNULL)
    time.sleep(1)
    load.run(service.url, seconds)
    if spy.wait(timeout=seconds + 120) != 0:
        raise BenchmarkError("py-spy failed (it needs ptrace: root, or CAP_SYS_PTRACE)")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as error:
        say(f"benchmark failed: {error}")
        sys.exit(2)
