// The chart, drawn in SVG: a time axis over the view's buckets; each series its colour, the
// average as a line through the buckets' centres with the min-max range shaded around it;
// one value axis for all (shared) or a lane per series (stacked). Drag to zoom, shift-drag
// to pan. What was drawn, number for number, is kept for `drawnSeries()`, the CSV and tests.

import { el, svg } from './dom.js';
import { isoTime, showTime, tickLabel, timeTicks } from './time.js';

const MARGIN = { left: 64, right: 14, top: 10, bottom: 22 };
const LANE_GAP = 18;

/** Pixel coordinates to hundredths: what the path's `d` holds and `drawnSeries()` reports. */
const round = (v) => Math.round(v * 100) / 100;

export class Chart {
  /** `onRange(from, to)`: a zoom or a pan picked a new time range. */
  constructor(onRange) {
    this.box = document.getElementById('chart');
    this.root = svg('svg', { role: 'img', 'aria-label': 'Chart' });
    this.tooltip = el('div');
    this.tooltip.id = 'tooltip';
    this.tooltip.hidden = true;
    this.box.append(this.root, this.tooltip);
    this.onRange = onRange;
    this.renders = 0;
    this.drawn = [];
    this.view = null;
    this.listen();
  }

  /** The width the series are drawn over, in pixels. */
  plotWidth() {
    return Math.max(50, this.box.clientWidth - MARGIN.left - MARGIN.right);
  }

  /**
   * Draws `series` ([{key, label, color, id?, path?, v, buckets: {t, avg, min?, max?}}], times
   * in ms) over `view` ({from, to, interval, intervalIso, axes}).
   */
  render(view, series) {
    const width = this.box.clientWidth;
    const height = this.box.clientHeight;
    const plot = { left: MARGIN.left, right: width - MARGIN.right, top: MARGIN.top, bottom: height - MARGIN.bottom };
    this.view = view;
    this.plot = plot;
    this.x = (t) => plot.left + ((t - view.from) / (view.to - view.from)) * (plot.right - plot.left);
    this.root.setAttribute('viewBox', `0 0 ${width} ${height}`);
    this.root.replaceChildren();
    const clip = svg('clipPath', { id: 'plot-clip' });
    clip.append(svg('rect', { x: plot.left, y: 0, width: plot.right - plot.left, height }));
    this.layer = svg('g', { 'clip-path': 'url(#plot-clip)' });
    this.root.append(clip, this.timeAxis(), this.layer);
    this.drawn = [];
    const lanes = view.axes === 'stacked' && series.length > 1 ? series.map((s) => [s]) : [series];
    const laneHeight = (plot.bottom - plot.top - LANE_GAP * (lanes.length - 1)) / lanes.length;
    lanes.forEach((members, i) => {
      const top = plot.top + i * (laneHeight + LANE_GAP);
      const y = this.valueAxis(members, top, top + laneHeight, lanes.length > 1);
      for (const s of members) this.drawSeries(s, y);
    });
    if (series.length === 0) {
      const note = svg('text', { class: 'empty', x: (plot.left + plot.right) / 2, y: (plot.top + plot.bottom) / 2, 'text-anchor': 'middle' });
      note.textContent = 'Pick an instance on the left and add one of its variables.';
      this.root.append(note);
    }
    this.selection = svg('rect', { class: 'selection', y: plot.top, height: plot.bottom - plot.top, width: 0, visibility: 'hidden' });
    this.cursor = svg('line', { class: 'cursor', y1: plot.top, y2: plot.bottom, visibility: 'hidden' });
    this.overlay = svg('rect', { class: 'overlay', x: plot.left, y: plot.top, width: plot.right - plot.left, height: plot.bottom - plot.top });
    this.root.append(svg('rect', { class: 'frame', x: plot.left, y: plot.top, width: plot.right - plot.left, height: plot.bottom - plot.top }));
    this.root.append(this.selection, this.cursor, this.overlay);
    this.renders += 1;
    this.drawnAt = performance.now();
    Object.assign(this.root.dataset, {
      renders: this.renders, interval: view.intervalIso, from: isoTime(view.from), to: isoTime(view.to),
      plotWidth: plot.right - plot.left,
    });
  }

  timeAxis() {
    const { plot, view } = this;
    const group = svg('g', { class: 'axis time' });
    const { step, ticks } = timeTicks(view.from, view.to, (plot.right - plot.left) / 110);
    for (const t of ticks) {
      const x = this.x(t);
      group.append(svg('line', { x1: x, x2: x, y1: plot.top, y2: plot.bottom }));
      const label = svg('text', { x, y: plot.bottom + 14, 'text-anchor': 'middle' });
      label.textContent = tickLabel(t, step);
      group.append(label);
    }
    return group;
  }

  /** A value axis for `members` between `top` and `bottom`; returns value → y. */
  valueAxis(members, top, bottom, named) {
    const values = members.flatMap((s) => [s.buckets.avg, s.buckets.min || [], s.buckets.max || []].flat());
    const finite = values.filter((v) => typeof v === 'number' && Number.isFinite(v));
    const [least, most] = [Math.min(...finite), Math.max(...finite)];
    // A little room above and below, so that the extremes do not lie on the frame.
    const pad = (most - least) * 0.04;
    const { lo, hi, ticks, decimals } = niceScale(least - pad, most + pad, Math.max(2, (bottom - top) / 40));
    const y = (v) => bottom - ((v - lo) / (hi - lo)) * (bottom - top);
    const group = svg('g', { class: 'axis value' });
    for (const v of finite.length ? ticks : []) {
      group.append(svg('line', { x1: this.plot.left, x2: this.plot.right, y1: y(v), y2: y(v) }));
      const label = svg('text', { x: this.plot.left - 4, y: y(v) + 3, 'text-anchor': 'end' });
      label.textContent = v.toFixed(decimals);
      group.append(label);
    }
    if (named && members[0]) {
      const name = svg('text', { x: this.plot.left + 4, y: top + 10, fill: members[0].color });
      name.textContent = members[0].label;
      group.append(name);
    }
    this.root.append(group);
    return y;
  }

  drawSeries(s, y) {
    const half = this.view.interval / 2;
    const points = [];
    s.buckets.t.forEach((t, i) => {
      const avg = s.buckets.avg[i];
      if (typeof avg !== 'number') return;
      const min = s.buckets.min ? s.buckets.min[i] : null;
      const max = s.buckets.max ? s.buckets.max[i] : null;
      points.push({ t, avg, min: min ?? null, max: max ?? null, x: round(this.x(t + half)), y: round(y(avg)) });
    });
    const group = svg('g', { class: 'series', 'data-key': s.key });
    const banded = points.filter((p) => typeof p.min === 'number' && typeof p.max === 'number');
    if (banded.length > 0) {
      const upper = banded.map((p) => `${p.x},${round(y(p.max))}`);
      const lower = banded.map((p) => `${p.x},${round(y(p.min))}`).reverse();
      group.append(svg('path', { class: 'band', fill: s.color, d: `M${upper.join('L')}L${lower.join('L')}Z` }));
    }
    if (points.length > 0) {
      group.append(svg('path', { class: 'avg', stroke: s.color, d: `M${points.map((p) => `${p.x},${p.y}`).join('L')}` }));
    }
    if (points.length <= this.plotWidth() / 6) {
      for (const p of points) group.append(svg('circle', { cx: p.x, cy: p.y, r: 2.5, fill: s.color }));
    }
    this.layer.append(group);
    this.drawn.push({
      key: s.key, label: s.label, id: s.id ?? null, path: s.path ?? null, variable: s.v, color: s.color,
      from: isoTime(this.view.from), to: isoTime(this.view.to), interval: this.view.intervalIso,
      points: points.map((p) => ({ ...p, t: isoTime(p.t) })),
    });
  }

  /** Drag to zoom, shift-drag to pan; hover shows the nearest bucket's values. */
  listen() {
    let drag = null;
    const at = (event) => event.clientX - this.root.getBoundingClientRect().left;
    const timeAt = (x) => this.view.from + ((x - this.plot.left) / (this.plot.right - this.plot.left)) * (this.view.to - this.view.from);
    this.root.addEventListener('pointerdown', (event) => {
      if (event.target !== this.overlay || event.button !== 0) return;
      this.root.setPointerCapture(event.pointerId);
      drag = { start: at(event), pan: event.shiftKey };
      this.overlay.classList.toggle('panning', drag.pan);
    });
    this.root.addEventListener('pointermove', (event) => {
      if (!this.view) return;
      const x = Math.min(Math.max(at(event), this.plot.left), this.plot.right);
      if (!drag) return this.hover(x, event);
      if (drag.pan) {
        this.layer.setAttribute('transform', `translate(${x - drag.start},0)`);
      } else {
        Object.entries({ x: Math.min(x, drag.start), width: Math.abs(x - drag.start), visibility: 'visible' })
          .forEach(([k, v]) => this.selection.setAttribute(k, v));
      }
    });
    this.root.addEventListener('pointerup', (event) => {
      if (!drag) return;
      const x = Math.min(Math.max(at(event), this.plot.left), this.plot.right);
      const { start, pan } = drag;
      drag = null;
      this.overlay.classList.remove('panning');
      this.selection.setAttribute('visibility', 'hidden');
      if (pan && Math.abs(x - start) >= 2) {
        const shift = timeAt(start) - timeAt(x);
        this.onRange(this.view.from + shift, this.view.to + shift);
      } else if (!pan && Math.abs(x - start) >= 4) {
        this.onRange(timeAt(Math.min(x, start)), timeAt(Math.max(x, start)));
      } else {
        this.layer.removeAttribute('transform');
      }
    });
    this.root.addEventListener('pointerleave', () => {
      this.tooltip.hidden = true;
      if (this.cursor) this.cursor.setAttribute('visibility', 'hidden');
    });
  }

  hover(x, event) {
    const lines = [];
    let time = null;
    for (const s of this.drawn) {
      let best = null;
      for (const p of s.points) if (!best || Math.abs(p.x - x) < Math.abs(best.x - x)) best = p;
      if (!best || Math.abs(best.x - x) > 24) continue;
      time = time ?? best.t;
      const range = best.min !== null && best.max !== null ? ` (${best.min} – ${best.max})` : '';
      lines.push(`${s.label}: ${best.avg}${range}`);
    }
    this.cursor.setAttribute('visibility', lines.length ? 'visible' : 'hidden');
    this.tooltip.hidden = lines.length === 0;
    if (!lines.length) return;
    this.cursor.setAttribute('x1', x);
    this.cursor.setAttribute('x2', x);
    this.tooltip.textContent = '';
    this.tooltip.append(el('div', '', `${showTime(Date.parse(time))} (+${this.view.intervalIso})`), ...lines.map((l) => el('div', '', l)));
    const box = this.box.getBoundingClientRect();
    this.tooltip.style.left = `${Math.min(event.clientX - box.left + 12, box.width - 220)}px`;
    this.tooltip.style.top = `${event.clientY - box.top + 12}px`;
  }
}

/** A value range on round ticks covering [lo, hi], about `count` ticks. */
function niceScale(lo, hi, count) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return { lo: 0, hi: 1, ticks: [], decimals: 0 };
  if (hi <= lo) {
    const pad = Math.abs(lo) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const raw = (hi - lo) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
  const start = Math.floor(lo / step) * step;
  const end = Math.ceil(hi / step) * step;
  const ticks = [];
  for (let i = 0; start + i * step <= end + step / 2; i += 1) ticks.push(start + i * step);
  return { lo: start, hi: end, ticks, decimals: Math.max(0, -Math.floor(Math.log10(step))) };
}
