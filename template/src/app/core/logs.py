"""Logging, configured once from the settings: JSON lines in production, readable text elsewhere.

Every line logged while a request is served carries its id (`request_id`), so that a user's bug
report (the id is in every error body) leads to the lines. Nothing here logs request bodies or
headers; redaction of secret-looking values is the backstop for code that one day does.
"""

import json
import logging
import re
from contextvars import ContextVar

from pydantic import SecretStr
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy import make_url

from app.core.config import Settings

# The id of the request being served; set by `app.api.middleware.RequestContext`.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

HANDLER_NAME = "app"
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(levelname)s %(name)s %(message)s"
JSON_NAMES = {"levelname": "level", "name": "logger", "exc_info": "traceback"}
# uvicorn's copy of its message with terminal colours: noise in a log collector.
JSON_LEFT_OUT = [*RESERVED_ATTRS, "color_message"]
REDACTED = "[redacted]"
# Shorter secrets (a local "app" password, say) would redact ordinary words all over the logs.
MIN_SECRET_LENGTH = 8
SECRET_WORD = r"(?:password|passwd|secret|token|authorization|api[_-]?key)"
SECRET_NAME = rf"[\w-]*{SECRET_WORD}[\w-]*"
# `password=...`, `"token": "..."`, `Authorization: Bearer ...`: the name stays, the value goes.
SECRET_VALUE = re.compile(
    rf"""(?i)\b({SECRET_NAME}['"]?\s*[:=]\s*['"]?)(?:(?:bearer|basic)\s+)?[^\s'"\\,;&}}]+"""
)
# Most lines name no secret: one quick search spares them SECRET_VALUE's slower one.
MAY_NAME_A_SECRET = re.compile(SECRET_WORD, re.IGNORECASE)


class AddRequestId(logging.Filter):
    """Puts the id of the request being served, if any, on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (current := request_id.get()) is not None:
            record.request_id = current
        return True


class Redacting(logging.Formatter):
    """Formats with `formatter`, then redacts the settings' secrets and secret-looking values.

    Applied to the line as it is written, once: the message, every field and the traceback go
    through it. The record stays as logged (other handlers, pytest's, see it whole).
    """

    def __init__(self, formatter: logging.Formatter, secrets: list[str]) -> None:
        super().__init__()
        self.formatter = formatter
        # Each secret as written in text, and as escaped in a JSON string; the longest first.
        spellings = {
            spelling
            for secret in secrets
            if len(secret) >= MIN_SECRET_LENGTH
            for spelling in (secret, json.dumps(secret)[1:-1])
        }
        self.secrets = sorted(spellings, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        line = self.formatter.format(record)
        for secret in self.secrets:
            line = line.replace(secret, REDACTED)
        if not MAY_NAME_A_SECRET.search(line):
            return line
        return SECRET_VALUE.sub(rf"\1{REDACTED}", line)


def known_secrets(settings: Settings) -> list[str]:
    secrets = [
        value.get_secret_value()
        for value in (getattr(settings, name) for name in type(settings).model_fields)
        if isinstance(value, SecretStr)
    ]
    if password := make_url(settings.database_url).password:
        secrets.append(password)
    return secrets


def configure_logging(settings: Settings) -> None:
    """One handler on the root logger, replacing the one a previous call installed.

    uvicorn's loggers write through it too, and its access log gives way to the application's
    own (one line per request, with the route and the request id; see `RequestContext`).
    """
    handler = logging.StreamHandler()
    handler.set_name(HANDLER_NAME)
    handler.setLevel(settings.log_level)
    if settings.log_as_json:
        formatter: logging.Formatter = JsonFormatter(
            JSON_FIELDS, rename_fields=JSON_NAMES, reserved_attrs=JSON_LEFT_OUT, timestamp=True
        )
    else:
        formatter = logging.Formatter(TEXT_FORMAT, defaults={"request_id": "-"})
    handler.setFormatter(Redacting(formatter, known_secrets(settings)))
    handler.addFilter(AddRequestId())

    root = logging.getLogger()
    for previous in [h for h in root.handlers if h.name == HANDLER_NAME]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
