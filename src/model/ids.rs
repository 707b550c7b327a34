//! The dense numeric ids that name twins and columns inside one store. The catalog hands
//! them out, but the WAL, the warm and cold tiers and the queries all carry them, so they are
//! part of the shared model rather than of any one layer.

/// Dense id of a twin within one store.
pub(crate) type TwinId = u32;
/// Dense id of a column within one twin.
pub(crate) type ColumnId = u32;
