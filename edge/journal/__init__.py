"""The node's durable record: events committed before acknowledgement, state snapshots, tracks."""

from .errors import CorruptJournal, ForeignDatabase, JournalError, JournalUnavailable
from .store import Journal, Restored

__all__ = [
    "CorruptJournal",
    "ForeignDatabase",
    "Journal",
    "JournalError",
    "JournalUnavailable",
    "Restored",
]
