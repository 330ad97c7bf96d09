"""Log lines for the systemd journal: a syslog priority prefix, then logfmt ``key=value`` fields.

journald reads the ``<N>`` prefix as the line's priority (``journalctl -p warning`` then works) and
adds its own timestamp, so the line carries only what journald cannot know. One record is one line:
newlines in a message or traceback are escaped, so a multi-line traceback cannot be mistaken for
several records.
"""

from __future__ import annotations

import logging

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


def _quoted(value: str) -> str:
    if value and not any(c in value for c in ' "=\\\n\t'):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


class JournalFormatter(logging.Formatter):
    """``<6>level=info logger=edge.api.app msg="serving http://127.0.0.1:8080/"``."""

    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITY.get(record.levelno, 6 if record.levelno < logging.WARNING else 3)
        fields = [f"level={record.levelname.lower()}", f"logger={record.name}", f"msg={_quoted(record.getMessage())}"]
        if record.exc_info:
            fields.append(f"exc={_quoted(self.formatException(record.exc_info))}")
        return f"<{priority}>" + " ".join(fields)
