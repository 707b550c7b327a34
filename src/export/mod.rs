//! The export stage: the last layer, standing after the engine. It turns what the engine
//! stores and answers into formats other tools read, and reads nothing back into the lower
//! layers except through the engine's public write calls:
//!
//! - `parquet` (feature `parquet`): export to and import from Parquet files in the layout of
//!   Time Series Insights' cold store.
//! - `arrow` (feature `parquet`): query result frames as Arrow record batches.
//! - `plot` (feature `plot`): charts of properties over time, as SVG or PNG.
//!
//! Nothing below the engine imports this module, so module dependencies run one way.

#[cfg(feature = "parquet")]
mod arrow;
#[cfg(feature = "parquet")]
pub(crate) mod parquet;
#[cfg(feature = "plot")]
pub mod plot;
