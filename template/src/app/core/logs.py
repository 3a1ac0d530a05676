"""Logging, configured once from the settings: JSON lines in production, readable text elsewhere.

Every line logged while a request is served carries its id (`request_id`), so that a user's bug
report (the id is in every error body) leads to the lines. Nothing here logs request bodies or
headers; redaction of secret-looking values is the backstop for code that one day does.
"""

import copy
import logging
import re
from contextvars import ContextVar

from pydantic import SecretStr
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy import make_url

from app.core.config import Settings

# The id of the request being served; set by `app.api.middleware.RequestLog`.
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
SECRET_NAME = r"[\w-]*(?:password|passwd|secret|token|authorization|api[_-]?key)[\w-]*"
# `password=...`, `"token": "..."`, `Authorization: Bearer ...`: the name stays, the value goes.
SECRET_VALUE = re.compile(
    rf"""(?i)\b({SECRET_NAME}['"]?\s*[:=]\s*['"]?)(?:(?:bearer|basic)\s+)?[^\s'"\\,;&}}]+"""
)
IS_SECRET_NAME = re.compile(SECRET_NAME, re.IGNORECASE)
STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class AddRequestId(logging.Filter):
    """Puts the id of the request being served, if any, on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (current := request_id.get()) is not None:
            record.request_id = current
        return True


class RedactSecrets(logging.Filter):
    """Redacts the settings' secrets and secret-looking values from what the handler writes.

    The handler gets a redacted copy: other handlers (pytest's, say) see the record as logged.
    """

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [secret for secret in secrets if len(secret) >= MIN_SECRET_LENGTH]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return SECRET_VALUE.sub(rf"\1{REDACTED}", text)

    def filter(self, record: logging.LogRecord) -> logging.LogRecord:
        record = copy.copy(record)
        record.msg, record.args = self.redact(record.getMessage()), None
        if record.exc_info:
            traceback = logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, self.redact(traceback)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name, value in vars(record).items():
            if name in STANDARD_ATTRIBUTES:
                continue
            if IS_SECRET_NAME.fullmatch(name):
                setattr(record, name, REDACTED)
            elif isinstance(value, str):
                setattr(record, name, self.redact(value))
        return record


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
    own (one line per request, with the route and the request id; see `RequestLog`).
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
    handler.setFormatter(formatter)
    handler.addFilter(AddRequestId())
    handler.addFilter(RedactSecrets(known_secrets(settings)))

    root = logging.getLogger()
    for previous in [h for h in root.handlers if h.name == HANDLER_NAME]:
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
