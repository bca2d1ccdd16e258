-- Webhooks: deliveries come from the alert history (the outbox, written in the same
-- transaction as every alert change). Each webhook keeps its own cursor into it, so delivery
-- is at least once, in order, and survives restarts of coldchain and of the receiver.

CREATE TABLE webhooks (
    tenant_id       text NOT NULL REFERENCES tenants (id),
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    url             text NOT NULL,
    -- Signs each body (HMAC-SHA256); never returned by the API.
    secret          text NOT NULL,
    -- History actions to deliver (opened, ended, acknowledged ...); empty means all.
    events          text[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    -- The last history seq delivered (or passed over by the filter). Starts at the head of
    -- the log when the webhook is created.
    delivered_seq   bigint NOT NULL,
    -- Consecutive failed attempts at the next event, and when to try again.
    failures        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX webhooks_due ON webhooks (next_attempt_at) WHERE deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
    id              bigserial PRIMARY KEY,
    tenant_id       text NOT NULL,
    webhook_id      uuid NOT NULL,
    seq             bigint NOT NULL,
    attempt         integer NOT NULL,
    attempted_at    timestamptz NOT NULL DEFAULT now(),
    status_code     integer,
    error           text,
    duration_ms     integer NOT NULL,
    succeeded       boolean NOT NULL,
    FOREIGN KEY (tenant_id, webhook_id) REFERENCES webhooks (tenant_id, id)
);
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (tenant_id, webhook_id, id DESC);
