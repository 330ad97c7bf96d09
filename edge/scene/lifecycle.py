"""Alert lifecycle: raised -> acknowledged -> cleared, merged in any order (pure, no I/O).

Acks and clears may arrive before their alert (another node's journal caught up first); they are
held until it does. Every field only moves forward, so applying the same events in any order gives
the same records, which is what lets the mesh deliver them in any order.
"""

from __future__ import annotations

import msgspec

from .model import Alert, AlertAck, AlertClear, AlertRecord, AlertStatus

Lifecycle = Alert | AlertAck | AlertClear


class AlertBook:
    """Every alert this node knows, with its lifecycle state."""

    def __init__(self) -> None:
        self._records: dict[str, AlertRecord] = {}
        self._early: dict[str, list[AlertAck | AlertClear]] = {}

    def __len__(self) -> int:
        return len(self._records)

    def get(self, alert_id: str) -> AlertRecord | None:
        """The record of one alert, or None."""
        return self._records.get(alert_id)

    def records(self) -> list[AlertRecord]:
        """All records, oldest alert first."""
        return sorted(self._records.values(), key=lambda r: (r.alert.ts, r.alert.id))

    def open_records(self) -> list[AlertRecord]:
        """Records not yet cleared."""
        return [r for r in self.records() if r.status is not AlertStatus.CLEARED]

    def apply(self, event: Lifecycle) -> AlertRecord | None:
        """Merge one event; return the alert's record if it changed."""
        if isinstance(event, Alert):
            if event.id in self._records:
                return None
            record = AlertRecord(alert=event)
            for early in self._early.pop(event.id, []):
                record = _merge(record, early)
            self._records[event.id] = record
            return record
        held = self._records.get(event.alert_id)
        if held is None:
            self._early.setdefault(event.alert_id, []).append(event)
            return None
        merged = _merge(held, event)
        if merged == held:
            return None
        self._records[event.alert_id] = merged
        return merged

    def forget_cleared(self, before_ts: float) -> None:
        """Drop cleared alerts cleared before ``before_ts`` from memory (the journal keeps them)."""
        for alert_id, record in list(self._records.items()):
            if record.cleared_ts is not None and record.cleared_ts < before_ts:
                del self._records[alert_id]


def _merge(record: AlertRecord, event: AlertAck | AlertClear) -> AlertRecord:
    # The earliest ack / clear wins, so the result does not depend on arrival order.
    if isinstance(event, AlertAck):
        if record.acked_ts is not None and (record.acked_ts, record.acked_by or "") <= (event.ts, event.by):
            return record
        record = msgspec.structs.replace(record, acked_by=event.by, acked_ts=event.ts)
    else:
        if record.cleared_ts is not None and (record.cleared_ts, record.cleared_by or "") <= (event.ts, event.by):
            return record
        record = msgspec.structs.replace(record, cleared_by=event.by, cleared_ts=event.ts)
    status = (
        AlertStatus.CLEARED
        if record.cleared_ts is not None
        else AlertStatus.ACKNOWLEDGED
        if record.acked_ts is not None
        else AlertStatus.RAISED
    )
    return msgspec.structs.replace(record, status=status)
