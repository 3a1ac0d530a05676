"""The declarative base every ORM model inherits from."""

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# The largest value of an `Integer` (int4) column: ids past it are refused at the edge.
MAX_INT = 2_147_483_647

# Stable constraint names, so that migrations can drop and alter constraints by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
