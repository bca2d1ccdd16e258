-- What people record about a shipment's journey: departures, arrivals, handovers between
-- custodians, customs holds, delivery, cancellation. The shipment's status follows from them
-- (the domain's Journey); the row in shipments caches it, written in the same transaction.
-- Append-only like alert_history: a wrong entry is corrected by a later one, never erased.
CREATE TABLE shipment_events (
    tenant_id       text NOT NULL,
    shipment_id     uuid NOT NULL,
    seq             bigserial NOT NULL,
    ts              timestamptz NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('departed', 'arrived', 'handover',
                        'customs_hold', 'customs_released', 'delivered', 'cancelled')),
    location        text NOT NULL DEFAULT '',
    from_custodian  text,
    to_custodian    text,
    -- The goods' temperature at that moment, and where the figure came from.
    temp_c          double precision,
    temp_source     text CHECK (temp_source IN ('recorded', 'loggers')),
    dock_minutes    integer CHECK (dock_minutes BETWEEN 0 AND 1440),
    note            text NOT NULL DEFAULT '',
    recorded_by     text NOT NULL DEFAULT '',
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, shipment_id, seq),
    FOREIGN KEY (tenant_id, shipment_id) REFERENCES shipments (tenant_id, id)
);
CREATE INDEX shipment_events_handovers ON shipment_events (tenant_id, shipment_id, ts)
    WHERE kind = 'handover';

CREATE FUNCTION refuse_rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP;
END;
$$;
CREATE TRIGGER shipment_events_append_only
    BEFORE UPDATE OR DELETE ON shipment_events
    FOR EACH ROW EXECUTE FUNCTION refuse_rewrite();
CREATE TRIGGER shipment_events_no_truncate
    BEFORE TRUNCATE ON shipment_events
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_rewrite();
