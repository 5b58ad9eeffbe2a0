//! The OpenAPI schemas of numbers whose range a rule enforces (only with the `openapi`
//! feature): the rule's constants written into the document, so a generated client and
//! the code that refuses agree without a number written twice.

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};

/// A whole number from `min` to `max`.
pub fn integer(min: i64, max: i64) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(min as f64))
        .maximum(Some(max as f64))
}

/// Points a receipt moves one way or the other: at most [`crate::ops::MAX_POINTS_PER_OP`].
pub fn points_moved() -> ObjectBuilder {
    integer(-crate::ops::MAX_POINTS_PER_OP, crate::ops::MAX_POINTS_PER_OP)
}

/// Points given: 0 to [`crate::ops::MAX_POINTS_PER_OP`].
pub fn points_given() -> ObjectBuilder {
    integer(0, crate::ops::MAX_POINTS_PER_OP)
}

/// An NPS score: 0 to [`crate::ops::MAX_NPS_SCORE`].
pub fn nps_score() -> ObjectBuilder {
    integer(0, crate::ops::MAX_NPS_SCORE).description(Some("Net Promoter Score, 0 to 10"))
}
