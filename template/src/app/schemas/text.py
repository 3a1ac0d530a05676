"""Text that PostgreSQL can store and people can read."""

import re

from pydantic import AfterValidator

# C0 controls except tab, line feed and carriage return; DEL and C1 controls; lone surrogates,
# which no encoding can store. PostgreSQL's text types refuse NUL outright.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def refuse_control_characters(value: str) -> str:
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters")
    return value


Printable = AfterValidator(refuse_control_characters)
