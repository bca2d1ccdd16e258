-- Per-logger rollups of readings over 15-minute buckets, kept by the batch writer in the
-- same statement that inserts the readings (only rows actually inserted count, so a
-- redelivered reading is never counted twice). Timelines over days and weeks read these
-- instead of every reading: a three-week one-minute series is 2,016 rows per logger here
-- against 30,240 in readings. Partial buckets at the edges of a window are read from readings.
CREATE TABLE reading_rollups (
    tenant_id   text NOT NULL,
    device_id   text NOT NULL,
    bucket      timestamptz NOT NULL,   -- start of the 15-minute bucket (epoch-aligned)
    n           integer NOT NULL,
    sum_c       double precision NOT NULL,
    min_c       double precision NOT NULL,
    max_c       double precision NOT NULL,
    first_ts    timestamptz NOT NULL,
    last_ts     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, device_id, bucket)
);

INSERT INTO reading_rollups (tenant_id, device_id, bucket, n, sum_c, min_c, max_c, first_ts, last_ts)
SELECT tenant_id, device_id, to_timestamp(floor(extract(epoch FROM ts) / 900) * 900),
       count(*), sum(temp_c), min(temp_c), max(temp_c), min(ts), max(ts)
FROM readings GROUP BY 1, 2, 3;
