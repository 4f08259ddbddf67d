-- 0004: the rejection's announcement is tracked like a registration's.
--   A reject / request_change decision commits in the database (decision row, request closed,
--   audit row), then its ProductRejected is published in a Kafka transaction. A crash between the
--   two used to leave the portal unanswered: the redelivered decision was a duplicate, and only
--   registrations had a "published" mark to tell an unannounced outcome from an announced one.
--   announced_at is set once the broker acknowledged the rejection; a redelivered decision whose
--   rejection was never announced announces it (the same event, rebuilt from the same decision).
ALTER TABLE approval_decision ADD COLUMN announced_at timestamptz;

-- Decisions recorded before this migration were announced by the worker that recorded them (or
-- lost in the crash this fixes, which cannot be told apart now): do not announce them again.
UPDATE approval_decision SET announced_at = recorded_at
WHERE status = 'applied' AND decision IN ('reject', 'request_change');
