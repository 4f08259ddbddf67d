-- 0001: the domain of the original proposal (MD, seller, product) plus the event-processing tables
-- (submission, classification, approval, audit, dedupe). Applied once by `hanger db migrate`.

CREATE TABLE md (
    md_id          text PRIMARY KEY,                -- 사번
    name           text NOT NULL,                   -- 이름
    categories     text[] NOT NULL DEFAULT '{}',    -- 담당품목: taxonomy ids (leaf or parent)
    active         boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE seller (
    portal         text NOT NULL,
    seller_id      text NOT NULL,                   -- 판매자ID
    md_id          text REFERENCES md (md_id),      -- 담당MD
    product_lines  text[] NOT NULL DEFAULT '{}',    -- 판매품목
    registered_on  date,                            -- 등록일자
    PRIMARY KEY (portal, seller_id)
);

CREATE TABLE submission (
    submission_id      text PRIMARY KEY,
    portal             text NOT NULL,
    portal_product_id  text NOT NULL,
    revision           integer NOT NULL DEFAULT 0,
    seller_id          text NOT NULL,
    title              text NOT NULL,
    declared_code      text,
    declared_taxonomy  text,
    payload            jsonb NOT NULL,              -- the ProductSubmitted event as received
    received_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (portal, portal_product_id, revision)
);

-- One result per (submission, model version): the enrichment dedupe record. A re-sent submission
-- or a replayed range finds its row here and is answered with the same result.
CREATE TABLE classification (
    submission_id   text NOT NULL REFERENCES submission (submission_id),
    model_version   text NOT NULL,
    taxonomy_id     text,
    confidence      double precision,
    route           text NOT NULL,                  -- auto_approved | needs_md
    md_id           text,
    shadow          boolean NOT NULL DEFAULT false, -- recorded for comparison, not routed
    result          jsonb NOT NULL,                 -- the ProductEnriched event emitted
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (submission_id, model_version)
);

CREATE TABLE approval_request (
    request_id      text PRIMARY KEY,
    submission_id   text NOT NULL REFERENCES submission (submission_id),
    md_id           text NOT NULL,
    reasons         text[] NOT NULL,
    status          text NOT NULL DEFAULT 'pending', -- pending | decided
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (submission_id)                           -- one MD request per submission, ever
);

CREATE TABLE approval_decision (
    decision_id     text PRIMARY KEY,
    submission_id   text NOT NULL REFERENCES submission (submission_id),
    md_id           text NOT NULL,
    decision        text NOT NULL,                  -- approve | override | reject | request_change
    taxonomy_id     text,
    attributes      jsonb NOT NULL DEFAULT '{}',
    reason          text,
    decided_at      timestamptz NOT NULL
);
CREATE INDEX approval_decision_submission ON approval_decision (submission_id);

CREATE TABLE product (
    product_id         bigserial PRIMARY KEY,
    submission_id      text NOT NULL UNIQUE REFERENCES submission (submission_id),
    portal             text NOT NULL,
    portal_product_id  text NOT NULL,
    seller_id          text NOT NULL,
    title              text NOT NULL,
    taxonomy_id        text NOT NULL,               -- 분류
    material           text,                        -- 소재
    manufactured       text,                        -- 제조연월 (YYYY-MM)
    size               text,                        -- 사이즈
    color              text,
    manufacturer       text,
    country            text,
    care               text,
    quality_assurance  text,
    after_service      text,
    decided_by         text NOT NULL,               -- md_id or 'auto'
    registered_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (portal, portal_product_id)
);

-- Who or what set each field of a product, and when.
CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    submission_id   text NOT NULL,
    product_id      bigint REFERENCES product (product_id),
    field           text NOT NULL,
    value           text,
    source          text NOT NULL CHECK (source IN ('seller', 'model', 'ocr', 'md')),
    actor           text NOT NULL,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_submission ON audit_log (submission_id);

-- Generic processed-message dedupe for workers whose effect is not naturally keyed.
CREATE TABLE processed_message (
    consumer        text NOT NULL,
    message_key     text NOT NULL,
    processed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_key)
);
