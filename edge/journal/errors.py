"""Errors of the journal: one root, a few named cases."""


class JournalError(Exception):
    """Root of every journal error."""


class CorruptJournal(JournalError):
    """The file is not a readable SQLite database, or fails its integrity check."""


class ForeignDatabase(JournalError):
    """The file is a SQLite database that belongs to something else."""


class JournalUnavailable(JournalError):
    """The journal cannot store right now (disk full, read-only file system, I/O error)."""
