//! Query results as Arrow record batches (the `parquet` feature), so that a service can hand
//! them to DataFusion, Polars or any Arrow consumer without converting row by row.
//!
//! A [`Frame`] becomes one batch: a `timestamp` column (UTC, nanoseconds, not null), then one
//! column per frame column, typed by its value type (Double -> Float64, Long -> Int64, Bool ->
//! Boolean, DateTime -> UTC nanosecond timestamps, String and Dynamic -> Utf8); a missing
//! value is a null.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, TimeUnit};

use crate::model::{Value, ValueType};
use crate::query::series::{Frame, FrameColumn, TwinFrame};

fn utc_nanos() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// One frame column as an Arrow array and its field.
fn column(c: &FrameColumn) -> (Field, ArrayRef) {
    let array: ArrayRef = match c.value_type {
        ValueType::Double => Arc::new(Float64Array::from_iter(c.values.iter().map(|v| match v {
            Some(Value::Double(x)) => Some(*x),
            _ => None,
        }))),
        ValueType::Long => Arc::new(Int64Array::from_iter(c.values.iter().map(|v| match v {
            Some(Value::Long(x)) => Some(*x),
            _ => None,
        }))),
        ValueType::Bool => Arc::new(BooleanArray::from_iter(c.values.iter().map(|v| match v {
            Some(Value::Bool(x)) => Some(*x),
            _ => None,
        }))),
        ValueType::DateTime => Arc::new(
            TimestampNanosecondArray::from_iter(c.values.iter().map(|v| match v {
                Some(Value::DateTime(t)) => Some(t.as_nanos()),
                _ => None,
            }))
            .with_timezone("UTC"),
        ),
        ValueType::String | ValueType::Dynamic | ValueType::Removed => {
            Arc::new(StringArray::from_iter(c.values.iter().map(|v| match v {
                Some(Value::String(s) | Value::Dynamic(s)) => Some(&**s),
                _ => None,
            })))
        }
    };
    (Field::new(c.name.as_str(), array.data_type().clone(), true), array)
}

impl Frame {
    /// This frame as one Arrow record batch: `timestamp`, then its columns (see the module
    /// docs for the types). Needs the `parquet` feature.
    pub fn to_record_batch(&self) -> Result<RecordBatch, ArrowError> {
        self.batch_with(None)
    }

    /// The batch, with a leading `$dtId` column when `twin` is given.
    fn batch_with(&self, twin: Option<Option<&str>>) -> Result<RecordBatch, ArrowError> {
        let n = self.timestamps.len();
        let mut fields = vec![Field::new("timestamp", utc_nanos(), false)];
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(
            TimestampNanosecondArray::from_iter_values(self.timestamps.iter().map(|t| t.as_nanos()))
                .with_timezone("UTC"),
        )];
        if let Some(twin) = twin {
            fields.push(Field::new("$dtId", DataType::Utf8, true));
            arrays.push(Arc::new(StringArray::from_iter(std::iter::repeat_n(twin, n))));
        }
        for c in &self.properties {
            let (field, array) = column(c);
            fields.push(field);
            arrays.push(array);
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
    }
}

impl TwinFrame {
    /// This series as one Arrow record batch: `timestamp`, `$dtId` (null for a merged
    /// fleet), then its columns. Needs the `parquet` feature.
    pub fn to_record_batch(&self) -> Result<RecordBatch, ArrowError> {
        self.frame.batch_with(Some(self.twin.as_deref()))
    }
}
