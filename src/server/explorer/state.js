// The view's state lives in the URL's hash, so that a view can be bookmarked and reloaded:
// `#from=<ISO>&to=<ISO>&axes=shared|stacked&twin=<id>&s=<series>&s=<series>...`, each series
// a small JSON object: {"id": twin id} or {"path": [hierarchy, level...]} (a merged series
// over the twins under a hierarchy node), the variable's name `v` and its type's id `type`,
// or, for a raw property of the twin's events charted without a variable, its name `v`
// and its type `raw` (Double or Long).

import { isoTime, parseTime } from './time.js';

/** The property types a raw series can chart. */
export const RAW_TYPES = ['Double', 'Long'];

/** A series' identity: what it shows, not how it is drawn. */
export function seriesKey(series) {
  return JSON.stringify([series.id ?? null, series.path ?? null, series.v, series.raw ?? null]);
}

/** A series' name for the legend and the CSV header. */
export function seriesLabel(series) {
  const where = series.id ?? `all under ${series.path.join('/')}`;
  return `${where} ${series.v}${series.raw ? ' (property)' : ''}`;
}

/** The state in `hash` (location.hash); anything unreadable is left out. */
export function readState(hash) {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const from = parseTime(params.get('from'));
  const to = parseTime(params.get('to'));
  const series = [];
  for (const text of params.getAll('s')) {
    try {
      const s = JSON.parse(text);
      const target = typeof s.id === 'string' || (Array.isArray(s.path) && s.path.length > 0);
      const what = typeof s.type === 'string' ? { type: s.type } : RAW_TYPES.includes(s.raw) ? { raw: s.raw } : null;
      if (target && typeof s.v === 'string' && what) {
        series.push(s.id !== undefined ? { id: s.id, v: s.v, ...what } : { path: s.path, v: s.v, ...what });
      }
    } catch {
      // A series someone mistyped in the URL: left out.
    }
  }
  const range = Number.isFinite(from) && Number.isFinite(to) && from < to ? { from, to } : null;
  return {
    range,
    axes: params.get('axes') === 'stacked' ? 'stacked' : 'shared',
    twin: params.get('twin') || null,
    series,
  };
}

/** The hash for `state` ({range, axes, twin, series}). */
export function writeState(state) {
  const params = new URLSearchParams();
  if (state.range) {
    params.set('from', isoTime(state.range.from));
    params.set('to', isoTime(state.range.to));
  }
  params.set('axes', state.axes);
  if (state.twin) params.set('twin', state.twin);
  for (const s of state.series) {
    const saved = s.id !== undefined ? { id: s.id } : { path: s.path };
    const what = s.raw ? { raw: s.raw } : { type: s.type };
    params.append('s', JSON.stringify({ ...saved, v: s.v, ...what }));
  }
  return `#${params.toString()}`;
}
