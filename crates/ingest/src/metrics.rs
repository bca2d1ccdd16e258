//! Metric names of the ingest, in one place so dashboards and the README agree with the code.

/// Counter: messages taken from the broker.
pub const MESSAGES_RECEIVED: &str = "coldchain_ingest_messages_received_total";
/// Counter: readings newly stored.
pub const READINGS_ACCEPTED: &str = "coldchain_readings_accepted_total";
/// Counter: readings that were already stored (redeliveries, duplicate publishes).
pub const READINGS_DUPLICATE: &str = "coldchain_readings_duplicate_total";
/// Counter, label `reason`: payloads or readings rejected.
pub const PAYLOADS_REJECTED: &str = "coldchain_payloads_rejected_total";
/// Histogram: readings plus rejections per committed batch.
pub const BATCH_SIZE: &str = "coldchain_batch_size";
/// Histogram: seconds to commit one batch.
pub const BATCH_COMMIT_SECONDS: &str = "coldchain_batch_commit_seconds";
/// Counter: failed batch commits (each is retried).
pub const BATCH_WRITE_ERRORS: &str = "coldchain_batch_write_errors_total";
/// Gauge: 1 while connected to the broker.
pub const ALERT_EVALUATION_ERRORS: &str = "coldchain_alert_evaluation_errors_total";
pub const ALERT_CHANGES: &str = "coldchain_alert_changes_total";

pub const BROKER_CONNECTED: &str = "coldchain_broker_connected";
/// Gauge: messages received and waiting for the batcher.
pub const QUEUE_DEPTH: &str = "coldchain_ingest_queue_depth";

/// Registers descriptions so `/metrics` explains each series.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(MESSAGES_RECEIVED, "MQTT messages taken from the broker");
    describe_counter!(READINGS_ACCEPTED, "Readings newly stored");
    describe_counter!(ALERT_CHANGES, "Alert changes written with the readings");
    describe_counter!(
        ALERT_EVALUATION_ERRORS,
        "Batches stored without judging their alerts because the rules failed on them"
    );
    describe_counter!(READINGS_DUPLICATE, "Readings received again and ignored");
    describe_counter!(
        PAYLOADS_REJECTED,
        "Payloads or readings rejected, by reason"
    );
    describe_histogram!(BATCH_SIZE, "Readings and rejections per committed batch");
    describe_histogram!(
        BATCH_COMMIT_SECONDS,
        Unit::Seconds,
        "Time to commit one batch"
    );
    describe_counter!(
        BATCH_WRITE_ERRORS,
        "Batch commits that failed and were retried"
    );
    describe_gauge!(
        BROKER_CONNECTED,
        "1 while the ingest is connected to the broker"
    );
    describe_gauge!(QUEUE_DEPTH, "Messages received and waiting to be batched");
}
