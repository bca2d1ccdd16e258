-- Alerts: product profiles get their alerting rules, alerts their append-only history.
--
-- alert_history is also the event log: its seq orders every alert change across the
-- installation, the live stream resumes from it (Last-Event-ID) and webhooks deliver from it.
-- Writers take a transaction-level advisory lock before appending, so seq order is commit
-- order and a reader that has seen seq n has seen everything before it.

ALTER TABLE product_profiles
    ADD COLUMN alert_delay_s        integer NOT NULL DEFAULT 900 CHECK (alert_delay_s >= 0),
    ADD COLUMN clear_margin_c       double precision NOT NULL DEFAULT 0.5 CHECK (clear_margin_c >= 0),
    ADD COLUMN clear_delay_s        integer NOT NULL DEFAULT 600 CHECK (clear_delay_s >= 0),
    ADD COLUMN excursion_budget_s   integer NOT NULL DEFAULT 14400 CHECK (excursion_budget_s >= 0),
    ADD COLUMN mkt_limit_c          double precision,
    ADD COLUMN mkt_delta_h_kj_per_mol double precision NOT NULL DEFAULT 83.144
                                    CHECK (mkt_delta_h_kj_per_mol > 0),
    ADD COLUMN offline_after_s      integer NOT NULL DEFAULT 3600 CHECK (offline_after_s > 0),
    ADD COLUMN door_open_limit_s    integer NOT NULL DEFAULT 900 CHECK (door_open_limit_s > 0),
    ADD COLUMN battery_low_pct      double precision NOT NULL DEFAULT 20
                                    CHECK (battery_low_pct BETWEEN 0 AND 100),
    ADD COLUMN max_gap_s            integer CHECK (max_gap_s > 0),
    ADD COLUMN mute_handovers       boolean NOT NULL DEFAULT true,
    ADD COLUMN mute_defrost         boolean NOT NULL DEFAULT true;

CREATE TABLE alerts (
    tenant_id       text NOT NULL,
    id              uuid NOT NULL DEFAULT gen_random_uuid(),
    shipment_id     uuid NOT NULL,
    -- The logger it concerns; empty for alerts about the shipment as a whole.
    device_id       text NOT NULL DEFAULT '',
    kind            text NOT NULL CHECK (kind IN ('temperature_high', 'temperature_low',
                        'excursion_budget_exhausted', 'mkt_over_limit', 'sensor_offline',
                        'door_open_too_long', 'battery_low')),
    severity        text NOT NULL CHECK (severity IN ('warning', 'critical')),
    status          text NOT NULL DEFAULT 'open'
                    CHECK (status IN ('open', 'acknowledged', 'resolved')),
    -- Event time: when the trouble started, when it qualified as an alert, when it ended.
    started_at      timestamptz NOT NULL,
    opened_at       timestamptz NOT NULL,
    ended_at        timestamptz,
    -- The reading at which the end was confirmed (the clear delay had passed).
    cleared_at      timestamptz,
    peak_c          double precision,
    out_of_band_s   bigint,
    area_c_min      double precision,
    -- Late readings showed the condition never met the rule (the history says when and why).
    retracted       boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    -- One alert per condition: what the engine recomputes it finds again by this key.
    CONSTRAINT alerts_condition_key UNIQUE (tenant_id, shipment_id, device_id, kind, started_at),
    FOREIGN KEY (tenant_id, shipment_id) REFERENCES shipments (tenant_id, id)
);
CREATE INDEX alerts_listing ON alerts (tenant_id, started_at DESC, id DESC);
CREATE INDEX alerts_by_shipment ON alerts (tenant_id, shipment_id, device_id, kind);

CREATE TABLE alert_history (
    seq             bigserial PRIMARY KEY,
    tenant_id       text NOT NULL,
    alert_id        uuid NOT NULL,
    at              timestamptz NOT NULL DEFAULT now(),
    -- 'engine' for the rules, 'operator:<name>' for people.
    actor           text NOT NULL,
    action          text NOT NULL CHECK (action IN ('opened', 'updated', 'ended', 'reopened',
                        'retracted', 'acknowledged', 'resolved')),
    note            text NOT NULL DEFAULT '',
    -- The alert as it was after this change.
    snapshot        jsonb NOT NULL,
    FOREIGN KEY (tenant_id, alert_id) REFERENCES alerts (tenant_id, id)
);
CREATE INDEX alert_history_by_alert ON alert_history (tenant_id, alert_id, seq);
CREATE INDEX alert_history_by_tenant ON alert_history (tenant_id, seq);

-- Food-safety and GDP audits ask for a history nobody can rewrite.
CREATE FUNCTION alert_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'alert_history is append-only: % is not allowed', TG_OP;
END;
$$;
CREATE TRIGGER alert_history_append_only
    BEFORE UPDATE OR DELETE ON alert_history
    FOR EACH ROW EXECUTE FUNCTION alert_history_is_append_only();
CREATE TRIGGER alert_history_no_truncate
    BEFORE TRUNCATE ON alert_history
    FOR EACH STATEMENT EXECUTE FUNCTION alert_history_is_append_only();
