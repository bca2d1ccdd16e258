//! Identifiers that travel in MQTT topics and URLs. They are restricted to a conservative
//! alphabet so that a tenant or device id can never inject a topic wildcard (`+`, `#`), a
//! path separator or anything a log line or a CSV cell would have to escape.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a tenant or device id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters, got {len}")]
    TooLong { max: usize, len: usize },
    #[error(
        "may contain only ASCII letters, digits, '-', '_' and '.', and must start with a letter or digit; got {0:?}"
    )]
    BadCharacters(String),
}

fn check(value: &str, max: usize) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty);
    }
    if value.len() > max {
        return Err(IdError::TooLong {
            max,
            len: value.len(),
        });
    }
    let mut chars = value.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if first_ok && rest_ok {
        Ok(())
    } else {
        Err(IdError::BadCharacters(value.to_owned()))
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The longest id accepted.
            pub const MAX_LEN: usize = $max;

            /// Validates and wraps an id.
            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check(&value, Self::MAX_LEN)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// A tenant: one logistics company or seller organisation. Every stored row carries one.
    TenantId,
    63
);
id_type!(
    /// A data logger's id as printed on the device and used in its MQTT topic.
    DeviceId,
    128
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_typical_ids() {
        assert!(TenantId::parse("acme-logistics").is_ok());
        assert!(DeviceId::parse("TT4-000123.b").is_ok());
    }

    #[test]
    fn refuses_topic_wildcards_and_separators() {
        for bad in ["a/b", "+", "#", "a+b", "", " x", "-lead", "ünï"] {
            assert!(DeviceId::parse(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn refuses_overlong_ids() {
        let long = "a".repeat(TenantId::MAX_LEN + 1);
        assert_eq!(
            TenantId::parse(long),
            Err(IdError::TooLong { max: 63, len: 64 })
        );
    }

    #[test]
    fn deserialising_validates() {
        let err = serde_json::from_str::<DeviceId>("\"a/b\"").unwrap_err();
        assert!(err.to_string().contains("may contain only"));
    }
}
