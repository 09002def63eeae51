"""kit.db: a model's table, typed as the Table that Core statements need."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, ForeignKey, Integer, Table, join
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kit.db import table_of


class _Base(DeclarativeBase):
    pass


class _Parent(_Base):
    __tablename__ = "test_parent"
    id: Mapped[int] = mapped_column(primary_key=True)


_child = Table(
    "test_child",
    _Base.metadata,
    Column("child_id", Integer, primary_key=True),
    Column("parent_id", ForeignKey("test_parent.id")),
)


class _ParentWithChild(_Base):
    """Mapped to a join, not to one table."""

    __table__ = join(_Parent.__table__, _child)


def test_a_model_mapped_to_a_table_gives_that_table() -> None:
    assert table_of(_Parent) is _Parent.__table__
    assert table_of(_Parent).name == "test_parent"


def test_a_model_mapped_to_a_join_is_refused() -> None:
    with pytest.raises(TypeError, match="not mapped to one table"):
        table_of(_ParentWithChild)
