"""Storage: SQLAlchemy models, the session factory, and all the SQL of Chorus."""

from storage.db import create_engine, create_read_sessionmaker, create_sessionmaker, is_sqlite

__all__ = ["create_engine", "create_read_sessionmaker", "create_sessionmaker", "is_sqlite"]
