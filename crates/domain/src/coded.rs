//! Enums stored and exchanged as short text codes (`in_transit`, `temperature_high` ...):
//! one macro gives each its list of values, its code, `Display`, `FromStr` with an error that
//! lists what is accepted, `TryFrom<String>` for reading it back from storage, and serde
//! using the same codes.

/// A code that is not one of an enum's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}; expected one of {expected}")]
pub struct UnknownCode {
    pub kind: &'static str,
    pub value: String,
    pub expected: String,
}

/// `coded_enum! { /// docs  pub enum Name("what it is called in errors") { Variant => "code", ... } }`
macro_rules! coded_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident($label:literal) {
            $( $(#[$vmeta:meta])* $variant:ident => $code:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
        )]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $code)] $variant, )+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::coded::UnknownCode;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|v| v.code() == s)
                    .ok_or_else(|| $crate::coded::UnknownCode {
                        kind: $label,
                        value: s.to_owned(),
                        expected: Self::ALL
                            .iter()
                            .map(|v| v.code())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            }
        }

        /// For reading the code back from storage.
        impl TryFrom<String> for $name {
            type Error = $crate::coded::UnknownCode;

            fn try_from(code: String) -> Result<Self, Self::Error> {
                code.parse()
            }
        }
    };
}
