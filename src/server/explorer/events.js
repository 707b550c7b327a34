// The raw events of the selected twin over the chart's range (getEvents), shown 50 rows at
// a time; "More" shows the next rows and, when the page fetched runs out, fetches the next
// page with its continuation token. And the CSV of what the chart shows.

import { query } from './api.js';
import { el, status } from './dom.js';
import { isoTime, showTime } from './time.js';

const ROWS = 50;

export class EventsTable {
  constructor() {
    this.title = document.getElementById('events-title');
    this.head = document.querySelector('#events-table thead');
    this.body = document.querySelector('#events-table tbody');
    this.more = document.getElementById('events-more');
    this.more.addEventListener('click', () => this.showMore());
    this.asked = 0;
    this.reset(null);
  }

  reset(twin) {
    Object.assign(this, { twin, request: null, rows: [], columns: [], token: null, shown: 0 });
    this.head.replaceChildren();
    this.body.replaceChildren();
    this.more.hidden = true;
  }

  /** The events of `twin` in [from, to). */
  async show(twin, from, to) {
    const mine = ++this.asked;
    this.reset(twin);
    if (!twin) {
      this.title.textContent = 'Events: pick an instance to list its raw events';
      return;
    }
    this.title.textContent = `Events of ${twin}, ${showTime(from)} – ${showTime(to)}: loading…`;
    this.request = { getEvents: { timeSeriesId: [twin], searchSpan: { from: isoTime(from), to: isoTime(to) } } };
    this.range = [from, to];
    try {
      const page = await query(this.request);
      if (mine !== this.asked) return;
      this.add(page);
      this.draw(ROWS);
    } catch (e) {
      if (mine === this.asked) this.title.textContent = `Events of ${twin}: ${e.message}`;
    }
  }

  add(page) {
    const properties = page.properties || [];
    for (const p of properties) if (!this.columns.includes(p.name)) this.columns.push(p.name);
    (page.timestamps || []).forEach((t, i) => {
      const row = { t };
      for (const p of properties) row[p.name] = p.values[i];
      this.rows.push(row);
    });
    this.token = page.continuationToken || null;
  }

  async showMore() {
    const mine = this.asked;
    if (this.shown + ROWS > this.rows.length && this.token) {
      try {
        const page = await query(this.request, this.token);
        if (mine !== this.asked) return;
        this.add(page);
      } catch (e) {
        status(`Could not load more events: ${e.message}`, true);
        return;
      }
    }
    this.draw(this.shown + ROWS);
  }

  /** Shows the first `count` rows (all columns known so far). */
  draw(count) {
    this.shown = Math.min(count, this.rows.length);
    const header = el('tr');
    header.append(el('th', '', 'Timestamp (UTC)'), ...this.columns.map((c) => el('th', '', c)));
    this.head.replaceChildren(header);
    this.body.replaceChildren(
      ...this.rows.slice(0, this.shown).map((row) => {
        const tr = el('tr');
        tr.append(el('td', '', row.t), ...this.columns.map((c) => el('td', '', cell(row[c]))));
        return tr;
      }),
    );
    const more = this.token ? ' and more' : '';
    const [from, to] = this.range;
    this.title.textContent =
      `Events of ${this.twin}, ${showTime(from)} – ${showTime(to)}: ${this.shown} of ${this.rows.length}${more}`;
    this.more.hidden = !(this.shown < this.rows.length || this.token);
  }
}

function cell(value) {
  if (value === undefined || value === null) return '';
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** What the chart drew (`Chart.drawn`) as CSV: a row per bucket start, columns per series. */
export function chartCsv(drawn) {
  const header = ['timestamp'];
  const byTime = new Map();
  drawn.forEach((s, i) => {
    const banded = s.points.some((p) => p.min !== null || p.max !== null);
    header.push(`${s.label} avg`, ...(banded ? [`${s.label} min`, `${s.label} max`] : []));
    for (const p of s.points) {
      if (!byTime.has(p.t)) byTime.set(p.t, new Map());
      byTime.get(p.t).set(i, banded ? [p.avg, p.min, p.max] : [p.avg]);
    }
  });
  const widths = drawn.map((s) => (s.points.some((p) => p.min !== null || p.max !== null) ? 3 : 1));
  const lines = [header.map(quote).join(',')];
  const times = [...byTime.keys()].sort((a, b) => Date.parse(a) - Date.parse(b));
  for (const t of times) {
    const cells = [t];
    widths.forEach((w, i) => cells.push(...(byTime.get(t).get(i) || Array(w).fill(null)).map(cell)));
    lines.push(cells.map(quote).join(','));
  }
  return `${lines.join('\r\n')}\r\n`;
}

function quote(text) {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** Offers `text` as a file download named `name`. */
export function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv' }));
  const link = el('a');
  link.href = url;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
