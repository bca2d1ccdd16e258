-- coldchain core schema. Every table carries its tenant and every key starts with it, so
-- every query is scoped by tenant and an index serves it.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE tenants (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$'),
    name        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Temperature bands per commodity. Issue 4 grows the alerting fields.
CREATE TABLE product_profiles (
    tenant_id   text NOT NULL REFERENCES tenants (id),
    id          text NOT NULL,
    name        text NOT NULL,
    min_c       double precision NOT NULL,
    max_c       double precision NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CHECK (min_c < max_c)
);

CREATE TABLE devices (
    tenant_id           text NOT NULL REFERENCES tenants (id),
    id                  text NOT NULL,
    name                text NOT NULL DEFAULT '',
    model               text NOT NULL DEFAULT '',
    -- How often the logger is configured to measure; later rules use it to tell a gap.
    reading_interval_s  integer NOT NULL DEFAULT 300 CHECK (reading_interval_s > 0),
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);

-- The latest known state of each device, maintained by the batch writer in the same
-- transaction as the readings, so "last seen" never runs ahead of what is stored.
CREATE TABLE device_state (
    tenant_id       text NOT NULL,
    device_id       text NOT NULL,
    last_seen_at    timestamptz NOT NULL,   -- arrival time of the latest batch
    last_reading_ts timestamptz NOT NULL,   -- event time of the newest reading
    last_temp_c     double precision NOT NULL,
    last_humidity_pct double precision,
    last_door_open  boolean,
    last_battery_pct double precision,
    last_lat        double precision,
    last_lon        double precision,
    PRIMARY KEY (tenant_id, device_id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);

CREATE TABLE shipments (
    tenant_id           text NOT NULL REFERENCES tenants (id),
    id                  uuid NOT NULL DEFAULT gen_random_uuid(),
    reference           text NOT NULL,
    seller              text NOT NULL DEFAULT '',
    origin              text NOT NULL DEFAULT '',
    destination         text NOT NULL DEFAULT '',
    mode                text NOT NULL DEFAULT 'sea' CHECK (mode IN ('sea', 'air', 'road')),
    profile_id          text,
    status              text NOT NULL DEFAULT 'planned'
                        CHECK (status IN ('planned', 'in_transit', 'at_hub', 'delivered', 'cancelled')),
    planned_departure   timestamptz,
    planned_arrival     timestamptz,
    actual_departure    timestamptz,
    actual_arrival      timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT shipments_reference_key UNIQUE (tenant_id, reference),
    FOREIGN KEY (tenant_id, profile_id) REFERENCES product_profiles (tenant_id, id)
);
CREATE INDEX shipments_listing ON shipments (tenant_id, created_at DESC, id DESC);

-- A device rides with a shipment for a window of event time; loggers are reused, so a
-- device has many assignments over its life but never two at once.
CREATE TABLE shipment_devices (
    tenant_id       text NOT NULL,
    shipment_id     uuid NOT NULL,
    device_id       text NOT NULL,
    assigned_from   timestamptz NOT NULL,
    assigned_to     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, shipment_id, device_id, assigned_from),
    FOREIGN KEY (tenant_id, shipment_id) REFERENCES shipments (tenant_id, id),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id),
    CHECK (assigned_to IS NULL OR assigned_to > assigned_from),
    CONSTRAINT shipment_devices_no_overlap EXCLUDE USING gist (
        tenant_id WITH =,
        device_id WITH =,
        tstzrange(assigned_from, assigned_to) WITH &&
    )
);

-- Append-only. The natural key (tenant, device, event time) makes a redelivered reading a
-- no-op, which is what lets the ingest acknowledge after commit and replay after a crash.
CREATE TABLE readings (
    tenant_id       text NOT NULL,
    device_id       text NOT NULL,
    ts              timestamptz NOT NULL,
    seq             bigint,
    temp_c          double precision NOT NULL,
    humidity_pct    double precision,
    door_open       boolean,
    battery_pct     double precision,
    lat             double precision,
    lon             double precision,
    received_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, device_id, ts)
);

-- Payloads and readings that could not be stored, kept with the reason, so nothing a
-- gateway sent disappears silently. The tenant is the one the topic named (it may not exist).
CREATE TABLE rejected_payloads (
    id          bigserial PRIMARY KEY,
    tenant_id   text,
    device_id   text,
    topic       text NOT NULL,
    payload     bytea NOT NULL,
    reason      text NOT NULL,
    detail      text NOT NULL,
    received_at timestamptz NOT NULL
);
CREATE INDEX rejected_payloads_by_tenant ON rejected_payloads (tenant_id, received_at DESC);
