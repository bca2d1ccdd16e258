-- Turn readings into a hypertable when TimescaleDB is installed on the server. Plain
-- PostgreSQL skips this: the extension is detected, never required.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS timescaledb;
            PERFORM create_hypertable('readings', 'ts',
                                      chunk_time_interval => interval '7 days',
                                      if_not_exists => true,
                                      migrate_data => true);
            RAISE NOTICE 'coldchain: readings is a TimescaleDB hypertable';
        EXCEPTION WHEN others THEN
            -- Available but not loadable (e.g. missing from shared_preload_libraries).
            RAISE WARNING 'coldchain: timescaledb is available but could not be enabled (%); readings stays a plain table', SQLERRM;
        END;
    ELSE
        RAISE NOTICE 'coldchain: timescaledb not available; readings is a plain table';
    END IF;
END
$$;
