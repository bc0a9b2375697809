"""The exception hierarchy. The edges (CLI, GUI) turn these into one clear line for people."""

from __future__ import annotations

import sqlite3

_DAMAGE_WORDS = ("malformed", "not a database", "database corrupt", "disk image")


def is_damage(e: BaseException) -> bool:
    """Does this error say the catalog file itself is damaged (not busy, full or read-only)?
    (SQLite says so in words; they are met on open and on any page read later.)"""
    return isinstance(e, sqlite3.DatabaseError) and any(w in str(e) for w in _DAMAGE_WORDS)


class DesktopSearchError(Exception):
    """Base of every error this app raises on purpose; str(e) is shown to the user as is."""


class ConfigError(DesktopSearchError):
    """The settings file or a setting is invalid."""


class ModelError(DesktopSearchError):
    """A model file is missing, not a GGUF, or not usable for the job asked of it."""


class IndexFailure(DesktopSearchError):
    """The catalog or vector index could not be opened, read or updated."""


class ExtractionError(DesktopSearchError):
    """A file's text could not be extracted. `reason` is a short code kept in the catalog."""

    reason = "unreadable"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class UnsupportedFormat(ExtractionError):
    """Not a format we extract (binary, unknown extension): the file is skipped, not failed."""

    reason = "unsupported"


class FileTooLarge(ExtractionError):
    reason = "too-large"


class EncryptedDocument(ExtractionError):
    reason = "encrypted"


class CorruptDocument(ExtractionError):
    reason = "corrupt"


class ExtractionTimeout(ExtractionError):
    reason = "timeout"


class QueryError(DesktopSearchError):
    """The search query could not be understood."""


class CatalogDamaged(IndexFailure):
    """The catalog file itself is damaged (a bad sector, a sync tool, a cut copy): SQLite reads
    it as malformed or as not a database. The person's own files are not involved."""

    def __init__(self, home: object) -> None:
        super().__init__(
            f"the index in {home} is damaged (its catalog file no longer reads back as "
            "written); your own files are untouched: run `desktop-search repair` to rebuild it"
        )
        self.home = home
