//! What can go wrong in the store, in terms a caller can act on: the row is missing, it
//! clashes with an existing one, it refers to something that does not exist, or the
//! database itself failed (retry later).

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row asked for does not exist (for this tenant).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A uniqueness or exclusion constraint refused the write.
    #[error("{message}")]
    Conflict { constraint: String, message: String },
    /// The write refers to a row that does not exist (a foreign key) or breaks a check.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// The database could not be reached or failed; the caller may retry.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Turns constraint violations into `Conflict`/`Invalid` with a message written for the
    /// API's users; anything else stays a database error.
    pub(crate) fn from_constraint(err: sqlx::Error) -> Self {
        let Some(db) = err.as_database_error() else {
            return StoreError::Database(err);
        };
        let constraint = db.constraint().unwrap_or_default().to_owned();
        let (field, message) = match constraint.as_str() {
            "shipments_reference_key" => {
                ("reference", "a shipment with this reference already exists")
            }
            "devices_pkey" => ("id", "a device with this id already exists"),
            "product_profiles_pkey" => ("id", "a product profile with this id already exists"),
            "product_profiles_min_c_check" | "product_profiles_check" => {
                ("max_c", "min_c must be below max_c")
            }
            "shipment_devices_no_overlap" | "shipment_devices_pkey" => (
                "device_id",
                "the device is already assigned to a shipment for an overlapping time window",
            ),
            "shipments_tenant_id_profile_id_fkey" => ("profile_id", "no such product profile"),
            "shipment_devices_tenant_id_device_id_fkey" => ("device_id", "no such device"),
            "shipment_devices_tenant_id_shipment_id_fkey" => {
                return StoreError::NotFound("shipment");
            }
            _ => return StoreError::Database(err),
        };
        match db.kind() {
            sqlx::error::ErrorKind::UniqueViolation => StoreError::Conflict {
                constraint,
                message: message.to_owned(),
            },
            _ if db.code().as_deref() == Some("23P01") => StoreError::Conflict {
                constraint,
                message: message.to_owned(),
            },
            _ => StoreError::Invalid {
                field: field.to_owned(),
                message: message.to_owned(),
            },
        }
    }
}
