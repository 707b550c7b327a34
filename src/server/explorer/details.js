// The picked instance: its type's variables (each with "Add" and, for an instance in a
// hierarchy, "Add all under" its node: one series merged over the twins there), its
// instance fields ($batch get) and the raw properties its events carry (eventSchema of
// that twin, over the whole history).

import { post } from './api.js';
import { button, el, status } from './dom.js';
import { RAW_TYPES } from './state.js';

/** Numeric variables chart as avg with min/max shading, aggregate ones as one line. */
export function chartable(variable) {
  return Boolean(variable) && (variable.kind === 'numeric' || variable.kind === 'aggregate');
}

export class Details {
  /**
   * `model`: {typeOf(typeId), hierarchies (Map id → hierarchy), async fullSpan()}; `onAdd(series)`
   * with {id} or {path}, and {v, type}.
   */
  constructor(model, onAdd) {
    this.panel = document.getElementById('details');
    this.model = model;
    this.onAdd = onAdd;
    this.shown = 0;
  }

  async show(hit) {
    const mine = ++this.shown;
    const twin = hit.timeSeriesId[0];
    this.panel.hidden = false;
    this.panel.replaceChildren(el('h2', '', hit.name || twin), el('p', 'note', 'Loading…'));
    const searchSpan = await this.model.fullSpan();
    const [instance, schema] = await Promise.all([
      post('timeseries/instances/$batch', { get: { timeSeriesIds: [hit.timeSeriesId] } })
        .then((a) => (a.get && a.get[0] && a.get[0].instance) || hit)
        .catch(() => hit),
      post('timeseries/query', { eventSchema: { timeSeriesId: hit.timeSeriesId, searchSpan } })
        .then((a) => a.properties || [])
        .catch((e) => {
          status(`No event schema for ${twin}: ${e.message}`, true);
          return [];
        }),
    ]);
    if (mine !== this.shown) return;
    const type = this.model.typeOf(instance.typeId);
    const node = this.nodeOf(instance);
    const children = [el('h2', '', instance.name || twin)];
    if (instance.name) children.push(el('div', 'kind', twin));
    children.push(el('div', '', `Type: ${type ? type.name : '(none)'}${instance.typeId ? '' : ' (the instance names no type)'}`));
    children.push(el('h3', '', 'Variables'), this.variables(twin, type, node));
    const fields = Object.entries(instance.instanceFields || {});
    if (fields.length > 0) children.push(el('h3', '', 'Instance fields'), table(fields));
    children.push(el('h3', '', 'Properties in its events'), this.properties(twin, schema));
    this.panel.replaceChildren(...children);
  }

  /** The hierarchy node the instance sits at: [hierarchy name, level values...], or null. */
  nodeOf(instance) {
    const hierarchy = this.model.hierarchies.get((instance.hierarchyIds || [])[0]);
    if (!hierarchy) return null;
    const path = [hierarchy.name];
    for (const field of hierarchy.source.instanceFieldNames) {
      const value = (instance.instanceFields || {})[field];
      if (typeof value !== 'string') break;
      path.push(value);
    }
    return path.length > 1 ? path : null;
  }

  variables(twin, type, node) {
    const rows = el('table');
    const variables = type ? Object.entries(type.variables || {}) : [];
    for (const [name, variable] of variables) {
      const row = el('tr', 'variable');
      row.dataset.variable = name;
      const actions = el('td');
      if (chartable(variable)) {
        const add = button('Add', () => this.onAdd({ id: twin, v: name, type: type.id }), `Chart ${name} of ${twin}`);
        add.dataset.scope = 'twin';
        actions.append(add);
        if (node) {
          const all = button('All', () => this.onAdd({ path: node, v: name, type: type.id }),
            `Chart ${name} merged over every twin under ${node.join('/')}`);
          all.dataset.scope = 'node';
          actions.append(' ', all);
        }
      } else {
        actions.append(el('span', 'kind', 'not charted'));
      }
      const what = el('td');
      what.append(el('div', '', name), el('div', 'kind', variable.kind));
      row.append(what, actions);
      rows.append(row);
    }
    if (variables.length === 0) rows.append(noteRow('No variables.'));
    return rows;
  }

  /** The twin's raw properties; numeric ones can be charted without a variable. */
  properties(twin, schema) {
    const rows = el('table');
    for (const p of schema) {
      const row = el('tr', 'property');
      row.dataset.property = p.name;
      const actions = el('td');
      if (RAW_TYPES.includes(p.type)) {
        actions.append(button('Add', () => this.onAdd({ id: twin, v: p.name, raw: p.type }), `Chart the property ${p.name} of ${twin}`));
      }
      row.append(el('td', '', p.name), el('td', 'kind', p.type), actions);
      rows.append(row);
    }
    if (schema.length === 0) rows.append(noteRow('None in its history.'));
    return rows;
  }
}

function table(pairs) {
  const t = el('table');
  for (const [k, v] of pairs) {
    const row = el('tr');
    row.append(el('td', '', k), el('td', '', typeof v === 'string' ? v : JSON.stringify(v)));
    t.append(row);
  }
  if (pairs.length === 0) t.append(noteRow('None.'));
  return t;
}

function noteRow(text) {
  const row = el('tr');
  row.append(el('td', 'note', text));
  return row;
}
