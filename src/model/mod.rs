//! The data model every stage shares: instants, typed values and records.

mod field;
mod ids;
mod record;
mod time;
mod value;

pub(crate) use field::FieldValue;
pub(crate) use ids::{ColumnId, TwinId};
pub use record::Record;
pub(crate) use time::{RFC3339_MAX_LEN, Rfc3339Printer};
pub use time::{Timestamp, TimestampError};
pub use value::{Value, ValueType};
