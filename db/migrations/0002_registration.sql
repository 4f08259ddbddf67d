-- 0002: the registration side. What the registrar needs to register each submission at most once
-- and to resolve conflicting MD decisions by a stated rule (see db/approvals.py):
--   * approval_decision.status: 'applied' (it decided the outcome) or 'ignored' (it arrived after a
--     final outcome and changed nothing). Every decision received is kept, so the trail is complete.
--   * approval_request gets the outcome and the decision that closed it.
--   * registration: one row per registered submission, written in the same transaction as the
--     product and its audit rows; holds the ProductRegistered event exactly as published, and
--     published_at once the broker acknowledged it: a redelivered message whose event was never
--     acknowledged re-publishes the very same event (an outbox row, in effect).

ALTER TABLE approval_decision
    ADD COLUMN status      text NOT NULL DEFAULT 'applied'
        CHECK (status IN ('applied', 'ignored')),
    ADD COLUMN recorded_at timestamptz NOT NULL DEFAULT now();

ALTER TABLE approval_request
    ADD COLUMN outcome     text,                     -- approve | override | reject | request_change
    ADD COLUMN decision_id text,                     -- the approval_decision that set the outcome
    ADD COLUMN decided_at  timestamptz;

CREATE INDEX approval_request_open_by_md ON approval_request (md_id, created_at)
    WHERE status <> 'decided';

-- The portal product's revision, so an older submission never overwrites a newer one.
ALTER TABLE product ADD COLUMN revision integer NOT NULL DEFAULT 0;

CREATE TABLE registration (
    submission_id  text PRIMARY KEY REFERENCES submission (submission_id),
    product_id     bigint NOT NULL REFERENCES product (product_id),
    decision_id    text,                             -- NULL when auto-approved
    event          jsonb NOT NULL,                   -- the ProductRegistered event published
    registered_at  timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz                       -- NULL until the broker acknowledged it
);
