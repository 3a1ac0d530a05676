"""A TCP proxy between the app and PostgreSQL that a test can turn against the app.

It forwards bytes untouched until told to refuse connections, to stall (accept and hold new
connections, freeze the open ones), to forget the open ones (as a firewall or NAT does with idle
connections: nothing is closed until the client sends), or to answer new connections as
PostgreSQL does while it starts up or when it is full.
"""

import asyncio
import struct
from contextlib import suppress
from typing import Any

from sqlalchemy import make_url

# Requests a client sends before its startup message: SSL and GSS encryption.
ENCRYPTION_REQUESTS = {80877103, 80877104}


def error_response(sqlstate: str, message: str) -> bytes:
    """A FATAL ErrorResponse message of PostgreSQL's protocol."""
    fields = b"".join(
        code + value.encode() + b"\0"
        for code, value in [(b"S", "FATAL"), (b"V", "FATAL"), (b"C", sqlstate), (b"M", message)]
    )
    body = fields + b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


STARTING_UP = error_response("57P03", "the database system is starting up")
TOO_MANY_CONNECTIONS = error_response("53300", "sorry, too many clients already")


def target_of(database_url: str) -> tuple[str, int] | str:
    """Where the URL connects: (host, port), or the path of PostgreSQL's Unix socket."""
    url = make_url(database_url)
    if url.host:
        return url.host, url.port or 5432
    return f"{url.query['host']}/.s.PGSQL.{url.port or 5432}"


class FaultyProxy:
    def __init__(self, target: tuple[str, int] | str) -> None:
        """`target` is (host, port), or the path of PostgreSQL's Unix socket."""
        self.target = target
        self.port = 0
        self.answer: bytes | None = None  # sent to each new client instead of forwarding
        self.frozen = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.Task[None]] = set()
        self.forgotten: set[asyncio.Task[None]] = set()

    def url(self, database_url: str) -> str:
        """The same database, through this proxy."""
        url = make_url(database_url).difference_update_query(["host"])
        return url.set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.accept, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def refuse(self) -> None:
        """Stop listening (connections are refused) and drop the open ones."""
        if self.server is not None:
            self.server.close()
            self.server = None
        await self.drop()

    async def drop(self) -> None:
        for link in list(self.links):
            link.cancel()
        for link in list(self.links):
            with suppress(asyncio.CancelledError):
                await link

    def stall(self) -> None:
        self.frozen.set()

    def forget(self) -> None:
        """The open links close as soon as the client sends anything on them."""
        self.forgotten |= self.links

    async def heal(self) -> None:
        """Forward again, as a database does when it comes back (restarted: old links gone)."""
        self.answer = None
        await self.drop()
        self.frozen.clear()
        if self.server is None:
            await self.start()

    async def accept(self, client: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.links.add(task)
        try:
            await self.serve(client, writer)
        except ConnectionError, asyncio.IncompleteReadError:
            pass
        finally:
            self.links.discard(task)
            self.forgotten.discard(task)
            writer.close()

    async def serve(self, client: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.frozen.is_set():
            await asyncio.Event().wait()  # held until the test drops or refuses
        if self.answer is not None:
            await self.reply_to_startup(client, writer, self.answer)
            return
        if isinstance(self.target, str):
            server, server_writer = await asyncio.open_unix_connection(self.target)
        else:
            server, server_writer = await asyncio.open_connection(*self.target)
        link = asyncio.current_task()
        try:
            await asyncio.gather(
                self.pipe(client, server_writer, link), self.pipe(server, writer, None)
            )
        finally:
            server_writer.close()

    async def pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        link: asyncio.Task[Any] | None,
    ) -> None:
        """Forwards `source` to `sink`; `link` is given for the client's side of a link."""
        while data := await source.read(65536):
            if self.frozen.is_set():
                await asyncio.Event().wait()
            if link in self.forgotten:
                break  # the server's side closes, then the client's
            sink.write(data)
            await sink.drain()
        sink.close()

    @staticmethod
    async def reply_to_startup(
        client: asyncio.StreamReader, writer: asyncio.StreamWriter, answer: bytes
    ) -> None:
        while True:
            length, code = struct.unpack("!II", await client.readexactly(8))
            await client.readexactly(length - 8)
            if code not in ENCRYPTION_REQUESTS:
                break
            writer.write(b"N")  # no encryption: the client goes on in plain text
            await writer.drain()
        writer.write(answer)
        await writer.drain()
