"""Storage: the database, its schema and migrations. The only package that writes SQL."""

from aifactory.store.db import Database

__all__ = ["Database"]
