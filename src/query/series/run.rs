//! Running `aggregateSeries` over the selected twins, one at a time or in parallel.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::read::{Twin, TwinView};

use crate::query::aggregate::Buckets;

use super::AggregateSeriesQuery;
use super::compile::{compile, duration_nanos};
use super::fold::fold_twin;
use super::frame::{Frame, TwinFrame};
use super::state::{State, finish};

/// A consistent view of the whole store for a query over many twins.
pub(crate) struct StoreView<'a> {
    pub cold: &'a crate::cold::ColdState,
    pub snapshot: u64,
}

impl StoreView<'_> {
    /// Runs `f` on the view of one twin.
    pub(crate) fn with_twin<T>(&self, entry: &Twin, f: impl FnOnce(&TwinView<'_>) -> Result<T>) -> Result<T> {
        let warm = entry.data.table.read();
        let view = TwinView {
            entry,
            cold: self.cold,
            frozen: self.cold.frozen_table(entry.id),
            warm: &warm,
            snapshot: self.snapshot,
        };
        f(&view)
    }
}

/// Runs an `aggregateSeries` query over `twins` (already selected).
pub(crate) fn aggregate_series(
    store: &StoreView<'_>,
    twins: &[Arc<Twin>],
    query: &AggregateSeriesQuery,
) -> Result<Vec<TwinFrame>> {
    let interval = duration_nanos(query.interval, "the interval")?;
    let buckets = Buckets::new(query.from, query.to, interval)?;
    let plan = compile(
        query.filter.as_deref(),
        &query.variables,
        query.projected.as_deref(),
        true,
    )?;
    if !twins.is_empty() {
        plan.slots
            .check_types(&twins.iter().map(|t| &**t).collect::<Vec<_>>())?;
    }
    let timestamps = buckets.starts();
    if !query.merge {
        return twins
            .iter()
            .map(|entry| {
                let mut state = State::new(&plan.spec, buckets.count);
                store.with_twin(entry, |view| fold_twin(view, 0, &plan, &buckets, &mut state))?;
                Ok(TwinFrame {
                    twin: Some(entry.name.to_string()),
                    frame: Frame {
                        timestamps: timestamps.clone(),
                        properties: finish(&plan, state, buckets.count),
                        continuation_token: None,
                    },
                })
            })
            .collect();
    }
    // Merged: both cores, each over half of the twins, then one merge.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let per_thread = twins.len().div_ceil(threads.max(1)).max(1);
    let mut state = State::new(&plan.spec, buckets.count);
    if threads <= 1 || twins.len() < 16 {
        for (twin, entry) in twins.iter().enumerate() {
            store.with_twin(entry, |view| fold_twin(view, twin, &plan, &buckets, &mut state))?;
        }
    } else {
        let partials: Vec<Result<State>> = std::thread::scope(|scope| {
            let handles: Vec<_> = twins
                .chunks(per_thread)
                .enumerate()
                .map(|(k, part)| {
                    let plan = &plan;
                    let buckets = &buckets;
                    scope.spawn(move || {
                        let mut state = State::new(&plan.spec, buckets.count);
                        for (j, entry) in part.iter().enumerate() {
                            let twin = k * per_thread + j;
                            store.with_twin(entry, |view| fold_twin(view, twin, plan, buckets, &mut state))?;
                        }
                        Ok(state)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::InvalidArgument("a query thread panicked".into())))
                })
                .collect()
        });
        for p in partials {
            state.merge(p?);
        }
    }
    Ok(vec![TwinFrame {
        twin: None,
        frame: Frame {
            timestamps,
            properties: finish(&plan, state, buckets.count),
            continuation_token: None,
        },
    }])
}
