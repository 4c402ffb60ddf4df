"""Exceptions raised by Village Atlas; each also inherits the builtin it specializes."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AccessDeniedError",
    "EditConflictError",
    "ImportRefusedError",
    "IngestError",
    "LoginError",
    "NoCrsError",
    "ProfileError",
    "SchemaError",
    "StoreBusyError",
    "StoreDamagedError",
    "StoreError",
    "TargetsError",
    "UnknownLayerError",
    "VillageAtlasError",
]


class VillageAtlasError(Exception):
    """Base class of every error raised on purpose by Village Atlas."""


class NoCrsError(ValueError, VillageAtlasError):
    """A data set has no coordinate reference system and none was given."""


class SchemaError(ValueError, VillageAtlasError):
    """A GeoDataFrame does not match its layer's schema; the message lists every problem."""


class ProfileError(ValueError, VillageAtlasError):
    """A city profile is missing or wrong; the message lists every problem."""


class TargetsError(ProfileError):
    """A targets file (part of the city profile) is wrong; the message lists every problem."""


class UnknownLayerError(KeyError, VillageAtlasError):
    """A layer key is not in the catalogue."""

    def __str__(self) -> str:
        """Return the message without the quotes KeyError adds."""
        return str(self.args[0]) if self.args else ""


class StoreError(OSError, VillageAtlasError):
    """The data store is missing, unreadable, or lacks a layer."""


class StoreBusyError(StoreError):
    """Another import or edit held the store's write lock for longer than the busy timeout."""


class StoreDamagedError(StoreError):
    """The store failed its integrity check; the message names the backup to restore."""


class EditConflictError(RuntimeError, VillageAtlasError):
    """Someone else saved the record since it was opened; `theirs` lists their changes."""

    def __init__(self, message: str, theirs: Sequence[object] | None = None) -> None:
        """Keep the other person's changes for the user to see."""
        super().__init__(message)
        self.theirs = list(theirs or [])


class AccessDeniedError(PermissionError, VillageAtlasError):
    """The logged-in account may not do this (another bureau's layer or field)."""


class LoginError(AccessDeniedError):
    """A login failed: wrong name or password, a disabled or a locked account."""


class IngestError(ValueError, VillageAtlasError):
    """An uploaded file is refused; the message says why and what to do."""


class ImportRefusedError(ValueError, VillageAtlasError):
    """An import cannot go ahead; the message says why and how to fix it."""
