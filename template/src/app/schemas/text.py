"""Text that PostgreSQL can store and people can read."""

# No C0 controls but tab, line feed and carriage return; no DEL or C1 controls. PostgreSQL's
# text types refuse NUL outright. (Lone surrogates never get this far: pydantic refuses them.)
# A pattern, not code, so that the OpenAPI document tells clients the rule too.
PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
