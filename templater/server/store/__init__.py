"""The control plane's registry on SQLite or PostgreSQL (SQLAlchemy Core): the schema and its
migrations, the database engine, and ``Store``, the typed repository the server uses."""

from templater.server.store.errors import (
    LimitExceeded,
    NotFound,
    StoreError,
    StoreUnavailable,
    VersionConflict,
)
from templater.server.store.repository import (
    AGENT_TOKEN_PREFIX,
    NAME_LIMIT,
    SELF,
    TOKEN_PREFIX,
    Store,
    hash_token,
)
from templater.server.store.schema import SCHEMA_VERSION

__all__ = [
    "AGENT_TOKEN_PREFIX",
    "NAME_LIMIT",
    "SCHEMA_VERSION",
    "SELF",
    "TOKEN_PREFIX",
    "LimitExceeded",
    "NotFound",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "VersionConflict",
    "hash_token",
]
