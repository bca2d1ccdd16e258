-- Events loggers report on coldchain/v1/{tenant}/{device_id}/events (door, power, defrost,
-- shock). Keyed like readings, so a redelivered event is stored once.
CREATE TABLE device_events (
    tenant_id   text NOT NULL,
    device_id   text NOT NULL,
    ts          timestamptz NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('door_open', 'door_close', 'power_off',
                    'power_on', 'defrost_start', 'defrost_end', 'shock')),
    received_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, device_id, ts, kind),
    FOREIGN KEY (tenant_id, device_id) REFERENCES devices (tenant_id, id)
);
