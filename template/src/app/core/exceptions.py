"""Errors that services raise. They know nothing of HTTP: `app.api.errors` maps them."""


class DomainError(Exception):
    """Base class whose message is safe to show to a client."""

    message = "The request could not be completed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)


class NotFoundError(DomainError):
    message = "Not found"


class ConflictError(DomainError):
    message = "Conflict with the current state"


class AuthenticationError(DomainError):
    message = "Could not validate credentials"


class TooManyAttemptsError(DomainError):
    """Refused before any work is done; the client may try again after `retry_after` seconds."""

    message = "Too many failed attempts; try again later"

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after
