//! The whole numbers a query may carry, each with its range written once: a handler reads
//! the parameter through its type's `read` (a [`Range`]), which refuses a value out of range or not a
//! number with 400 `bad_request` ("limit must be 1 to 1000"), and the OpenAPI document shows
//! the same `minimum`, `maximum` and `default` ([`Range::schema`]), so a generated
//! client, a property-based tester and the server agree.

use serde::{Deserialize, Deserializer};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

use crate::HubError;

/// A query parameter's range, and what an absent one means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub name: &'static str,
    pub min: u64,
    pub max: u64,
    pub default: u64,
}

impl Range {
    /// The value of `raw`, the default when absent; 400 when out of range or not a number.
    pub fn read(&self, raw: Option<&str>) -> Result<u64, HubError> {
        let Some(raw) = raw else { return Ok(self.default) };
        raw.parse::<u64>()
            .ok()
            .filter(|n| (self.min..=self.max).contains(n))
            .ok_or_else(|| HubError::BadRequest(format!("{} must be {} to {}", self.name, self.min, self.max)))
    }

    /// The parameter's schema: an integer of this range.
    pub fn schema(&self) -> RefOr<Schema> {
        omnikiosk_protocol::schema::integer(self.min as i64, self.max as i64).default(Some(self.default.into())).into()
    }
}

/// Declares a query parameter of its own type: `bounded!(Name, "param", min, max, default)`.
/// The type deserialises whatever the request wrote; `Name::read` reads it by
/// `Name::RANGE`, which is also its schema.
macro_rules! bounded {
    ($(#[$doc:meta])* $name:ident, $param:literal, $min:expr, $max:expr, $default:expr) => {
        $(#[$doc])*
        pub struct $name(String);

        impl $name {
            pub const RANGE: Range = Range { name: $param, min: $min as u64, max: $max as u64, default: $default as u64 };

            /// The value given, or the default; 400 when out of range or not a number.
            pub fn read(given: &Option<Self>) -> Result<u64, HubError> {
                Self::RANGE.read(given.as_ref().map(|g| g.0.as_str()))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map($name)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                Self::RANGE.schema()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

bounded!(
    /// Changes in a pull page.
    PullLimit, "limit", 1, crate::http::MAX_PAGE, crate::http::PULL_PAGE
);
bounded!(
    /// Seconds a pull is held when nothing is new.
    PullWait, "wait", 0, crate::http::MAX_WAIT_SECS, 0
);
bounded!(
    /// Entries in a page of a channel list in commit order (sales, shifts, lookups).
    ListLimit, "limit", 1, crate::MAX_SALES_PAGE, crate::SALES_PAGE
);
bounded!(
    /// Entries in a page of a customer's timeline.
    TimelineLimit, "limit", 1, crate::MAX_TIMELINE_PAGE, crate::TIMELINE_PAGE
);

pub use omnikiosk_protocol::catalogue::{ID_MAX_CHARS, ID_PUNCTUATION};

/// An id as the channel gives it (a customer's, a product's SKU, a colleague's, an
/// idempotency key): 1 to [`ID_MAX_CHARS`] ASCII letters, digits, '.', '_' or '-'; 400
/// naming `what` otherwise.
pub fn check_id(what: &str, id: &str) -> Result<(), HubError> {
    if omnikiosk_protocol::catalogue::is_id(id) {
        return Ok(());
    }
    Err(HubError::BadRequest(format!("{what} must be 1-{ID_MAX_CHARS} letters, digits, '-', '_' or '.'")))
}

/// A customer id ([`check_id`]).
pub fn check_customer_id(id: &str) -> Result<(), HubError> {
    check_id("customer id", id)
}

/// The customer id of `/v1/customers/{id}…` as the request wrote it; [`CustomerId::read`]
/// checks it.
pub struct CustomerId(String);

impl CustomerId {
    /// The id; 400 when it is no customer id ([`check_customer_id`]).
    pub fn read(self) -> Result<String, HubError> {
        check_customer_id(&self.0).map(|()| self.0)
    }
}

impl<'de> Deserialize<'de> for CustomerId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(CustomerId)
    }
}

impl utoipa::PartialSchema for CustomerId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(format!("^[A-Za-z0-9{ID_PUNCTUATION}]{{1,{ID_MAX_CHARS}}}$")))
            .min_length(Some(1))
            .max_length(Some(ID_MAX_CHARS))
            .into()
    }
}

impl utoipa::ToSchema for CustomerId {}

/// The path of `/v1/customers/{id}…`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CustomerPath {
    /// Customer id: 1-64 letters, digits, '-', '_' or '.'.
    #[param(inline)]
    pub id: CustomerId,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: Option<&str>) -> Result<u64, String> {
        ListLimit::RANGE.read(raw).map_err(|e| e.to_string())
    }

    #[test]
    fn a_number_in_range_is_read_and_anything_else_is_refused_by_name() {
        let refused = Err("limit must be 1 to 1000".to_string());
        assert_eq!(read(None), Ok(100));
        assert_eq!(read(Some("1")), Ok(1));
        assert_eq!(read(Some("1000")), Ok(1000));
        for bad in ["0", "1001", "-1", "x", "", "1.5", "18446744073709551616"] {
            assert_eq!(read(Some(bad)), refused, "{bad:?}");
        }
    }

    /// The document's pattern says what `check_customer_id` takes.
    #[test]
    fn the_customer_id_pattern_is_the_rule_the_hub_checks() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(CustomerId::schema()).unwrap();
        assert_eq!(schema["pattern"], "^[A-Za-z0-9._-]{1,64}$");
        let long = "x".repeat(65);
        for (id, ok) in [("C000001", true), ("a.b_c-9", true), ("", false), ("bad id", false), ("C1\u{0}", false), ("é", false), (long.as_str(), false)] {
            assert_eq!(check_customer_id(id).is_ok(), ok, "{id:?}");
        }
    }
}
