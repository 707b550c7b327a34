// The explorer: loads the model (types, hierarchies, settings) and the availability, then
// keeps the chart, the time bar, the events table and the URL in step with the state
// ({range, axes, twin, series}). `window.explorer` exposes what was drawn, for tests.

import { allPages, get, query } from './api.js';
import { Chart } from './chart.js';
import { Details, chartable } from './details.js';
import { el, button, status } from './dom.js';
import { EventsTable, chartCsv, download } from './events.js';
import { readState, seriesKey, seriesLabel, writeState } from './state.js';
import { Timebar } from './timebar.js';
import { alignSpan, bucketInterval, isoDuration, isoTime, showDuration } from './time.js';
import { Tree } from './tree.js';

const COLORS = ['#0063b1', '#e8590c', '#2b8a3e', '#c2255c', '#6741d9', '#0b7285', '#a61e4d', '#5c940d', '#d9480f', '#364fc7'];

const state = { range: null, axes: 'shared', twin: null, series: [] };

/** The Time Series Model as the page needs it. */
const model = {
  types: new Map(),
  hierarchies: new Map(),
  defaultTypeId: null,
  /** An instance's type; one without a type id is of the model's default type. */
  typeOf(typeId) {
    return this.types.get(typeId || this.defaultTypeId) || [...this.types.values()].find((t) => t.name === 'DefaultType');
  },
  /** Settles when the availability has been read (or failed). */
  availability: null,
  /** The whole history as a search span, once the availability is known. */
  async fullSpan() {
    await this.availability;
    const [from, to] = timebar.data ? timebar.fullRange() : [0, 1];
    return { from: isoTime(from), to: isoTime(to) };
  },
};

let chart, timebar, events, tree, details;
let generation = 0;
let last = null; // The last view drawn and its series, to redraw without asking again.
let eventsShown = '';

async function start() {
  chart = new Chart(setRange);
  timebar = new Timebar(setRange);
  events = new EventsTable();
  details = new Details(model, addSeries);
  tree = new Tree(pick);
  window.explorer = {
    drawnSeries: () => structuredClone(chart.drawn),
    state: () => structuredClone(state),
    renders: () => chart.renders,
    drawnAt: () => chart.drawnAt,
  };
  for (const b of document.querySelectorAll('[data-axes]')) {
    b.addEventListener('click', () => {
      state.axes = b.dataset.axes;
      redraw();
    });
  }
  document.getElementById('csv').addEventListener('click', () => download('twinstore-explorer.csv', chartCsv(chart.drawn)));
  let resizing = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(refresh, 200);
  });
  window.addEventListener('hashchange', () => {
    Object.assign(state, readState(location.hash));
    if (!state.range && timebar.data) {
      const [from, to] = timebar.fullRange();
      state.range = { from, to };
    }
    refresh();
  });
  // The availability can take a while over a large store: a view whose URL names its
  // range is drawn without waiting for it.
  const availability = get('availability').then((answer) => {
    if (!timebar.setAvailability(answer)) status('The store holds no events yet.');
  });
  model.availability = availability.catch((e) => status(`Could not load the availability: ${e.message}`, true));
  try {
    const [types, hierarchies, settings] = await Promise.all([
      allPages('timeseries/types', 'types'),
      allPages('timeseries/hierarchies', 'hierarchies'),
      get('timeseries/modelSettings'),
    ]);
    for (const t of types) model.types.set(t.id, t);
    for (const h of hierarchies) model.hierarchies.set(h.id, h);
    model.defaultTypeId = settings.modelSettings && settings.modelSettings.defaultTypeId;
  } catch (e) {
    status(`Could not load the model: ${e.message}`, true);
    return;
  }
  Object.assign(state, readState(location.hash));
  if (!state.range) {
    await model.availability;
    if (timebar.data) {
      const [from, to] = timebar.fullRange();
      state.range = { from, to };
    }
  }
  const strip = model.availability.then(() => state.range && timebar.draw(state.range));
  await Promise.all([tree.load('').catch((e) => status(`Could not load the tree: ${e.message}`, true)), refresh(), strip]);
  document.body.dataset.ready = '1';
}

function setRange(from, to) {
  if (!(to > from)) return;
  state.range = { from: Math.round(from), to: Math.round(to) };
  refresh();
}

function pick(hit) {
  state.twin = hit.timeSeriesId[0];
  details.show(hit).catch((e) => status(`Could not show ${state.twin}: ${e.message}`, true));
  saveAndShowEvents();
}

function addSeries(series) {
  if (state.series.some((s) => seriesKey(s) === seriesKey(series))) {
    status(`${seriesLabel(series)} is on the chart already.`);
    return;
  }
  state.series.push(series);
  if (!state.twin && series.id) state.twin = series.id;
  refresh();
}

function removeSeries(key) {
  state.series = state.series.filter((s) => seriesKey(s) !== key);
  refresh();
}

/** The URL, the legend, the axes buttons and the events table, after a change of state. */
function saveAndShowEvents() {
  history.replaceState(null, '', writeState(state));
  for (const b of document.querySelectorAll('[data-axes]')) b.classList.toggle('on', b.dataset.axes === state.axes);
  const legend = document.getElementById('legend');
  legend.replaceChildren(
    ...state.series.map((s, i) => {
      const item = el('li', s.id === state.twin ? 'selected' : '');
      item.dataset.key = seriesKey(s);
      const swatch = el('span', 'swatch');
      swatch.style.background = COLORS[i % COLORS.length];
      item.append(swatch, el('span', 'label', seriesLabel(s)), button('×', () => removeSeries(seriesKey(s)), 'Remove'));
      item.addEventListener('click', () => {
        if (!s.id) return;
        state.twin = s.id;
        saveAndShowEvents();
      });
      return item;
    }),
  );
  if (!state.range) return;
  const shown = JSON.stringify([state.twin, state.range]);
  if (shown !== eventsShown) {
    eventsShown = shown;
    events.show(state.twin, state.range.from, state.range.to);
  }
}

/** Asks for every series over the range, in buckets that fit the chart's width, and draws them. */
async function refresh() {
  const mine = ++generation;
  saveAndShowEvents();
  if (!state.range) return;
  timebar.draw(state.range);
  const interval = bucketInterval(state.range.to - state.range.from, chart.plotWidth());
  const [from, to] = alignSpan(state.range.from, state.range.to, interval);
  const view = { from, to, interval, intervalIso: isoDuration(interval), axes: state.axes };
  document.getElementById('chart-info').textContent =
    `${Math.round((to - from) / interval)} buckets of ${view.intervalIso} (${showDuration(interval)})`;
  status(state.series.length ? 'Loading…' : '');
  const answers = await Promise.all(
    state.series.map((s, i) =>
      seriesBuckets(s, view)
        .then((buckets) => ({ ...s, key: seriesKey(s), label: seriesLabel(s), color: COLORS[i % COLORS.length], buckets }))
        .catch((e) => ({ error: `${seriesLabel(s)}: ${e.message}` })),
    ),
  );
  if (mine !== generation) return;
  last = { view, series: answers.filter((a) => !a.error) };
  chart.render(view, last.series);
  const errors = answers.filter((a) => a.error).map((a) => a.error);
  status(errors.join('; '), errors.length > 0);
}

/** Redraws the last answers with the current axes mode. */
function redraw() {
  saveAndShowEvents();
  if (last) chart.render({ ...last.view, axes: state.axes }, last.series);
}

/** A series' variable: its type's, or one over the raw property (TSX quotes escaped with `\`). */
function variableOf(series) {
  if (series.raw) {
    const quoted = series.v.replaceAll('\\', '\\\\').replaceAll("'", "\\'");
    return { kind: 'numeric', value: { tsx: `$event['${quoted}'].${series.raw}` } };
  }
  const type = model.types.get(series.type);
  return type && type.variables && type.variables[series.v];
}

/** One series' buckets: aggregateSeries with inline avg, min and max of the variable's value. */
async function seriesBuckets(series, view) {
  const variable = variableOf(series);
  if (!chartable(variable)) throw new Error(`the type ${series.type} has no numeric or aggregate variable ${series.v}`);
  const over = (aggregation) => {
    const v = { kind: 'numeric', value: variable.value, aggregation: { tsx: `${aggregation}($value)` } };
    if (variable.filter) v.filter = variable.filter;
    return v;
  };
  const inline = variable.kind === 'numeric'
    ? { avg: over('avg'), min: over('min'), max: over('max') }
    : { avg: variable.filter ? { kind: 'aggregate', aggregation: variable.aggregation, filter: variable.filter } : { kind: 'aggregate', aggregation: variable.aggregation } };
  const selection = series.id !== undefined
    ? { timeSeriesId: [series.id] }
    : { hierarchyPath: { hierarchy: series.path[0], path: series.path.slice(1) }, merge: true };
  const answer = await query({
    aggregateSeries: {
      ...selection,
      searchSpan: { from: isoTime(view.from), to: isoTime(view.to) },
      interval: view.intervalIso,
      inlineVariables: inline,
      projectedVariables: Object.keys(inline),
    },
  });
  const frame = answer.series ? answer.series[0] || { timestamps: [], properties: [] } : answer;
  const column = (name) => {
    const property = (frame.properties || []).find((p) => p.name === name);
    return property ? property.values : null;
  };
  return { t: (frame.timestamps || []).map((t) => Date.parse(t)), avg: column('avg') || [], min: column('min'), max: column('max') };
}

start();
