// The time bar: the availability strip (event counts over the whole history, GET
// /availability) on which a drag picks a range and a click moves the range there; presets
// for the last hour, day and week of the data (stores hold past data, so "last" is counted
// back from the end of the data, not from now); pan and zoom-out buttons.

import { svg } from './dom.js';
import { DAY, HOUR, showDuration, showTime, tickLabel, timeTicks } from './time.js';

/** An ISO 8601 duration as the server writes them (PT1S ... P365D), in ms; NaN otherwise. */
function durationMs(text) {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?$/.exec(text || '');
  if (!m) return NaN;
  const [d, h, min, s] = m.slice(1).map((v) => Number(v || 0));
  return ((d * 24 + h) * 60 + min) * 60000 + s * 1000;
}

export class Timebar {
  /** `onRange(from, to)`: the user picked a range. */
  constructor(onRange) {
    this.strip = document.getElementById('availability');
    this.onRange = onRange;
    this.data = null;
    this.range = null;
    const presets = { hour: HOUR, day: DAY, week: 7 * DAY };
    for (const b of document.querySelectorAll('[data-preset]')) {
      b.addEventListener('click', () => {
        if (!this.data) return;
        const [from, to] = this.fullRange();
        const length = presets[b.dataset.preset];
        this.onRange(length ? Math.max(from, to - length) : from, to);
      });
    }
    const move = (share) => this.range && this.onRange(...this.shifted(share));
    document.getElementById('pan-left').addEventListener('click', () => move(-0.5));
    document.getElementById('pan-right').addEventListener('click', () => move(0.5));
    document.getElementById('zoom-out').addEventListener('click', () => {
      if (!this.range) return;
      const { from, to } = this.range;
      const half = to - from;
      this.onRange(from - half / 2, to + half / 2);
    });
    this.listen();
  }

  shifted(share) {
    const { from, to } = this.range;
    const by = (to - from) * share;
    return [from + by, to + by];
  }

  /** Reads GET /availability's answer; false when the store has no events. */
  setAvailability(answer) {
    const a = answer && answer.availability;
    if (!a || !a.range || !a.range.from) return false;
    const interval = durationMs(a.intervalSize) || 1000;
    const counts = Object.entries(a.distribution || {}).map(([t, n]) => [Date.parse(t), n]);
    this.data = { from: Date.parse(a.range.from), to: Date.parse(a.range.to), interval, counts };
    return true;
  }

  /**
   * The whole history, in whole buckets of the availability's interval: from the start of
   * the first event's bucket to the end of the last event's (TSI's `to` is the last event).
   */
  fullRange() {
    const { from, to, interval } = this.data;
    return [Math.floor(from / interval) * interval, Math.floor(to / interval) * interval + interval];
  }

  /** Draws the strip with `range` ({from, to}) marked, and the range as text. */
  draw(range) {
    this.range = range;
    document.getElementById('range-text').textContent =
      `${showTime(range.from)} – ${showTime(range.to)} UTC (${showDuration(range.to - range.from)})`;
    this.strip.replaceChildren();
    if (!this.data) return;
    const width = this.strip.clientWidth;
    const height = this.strip.clientHeight;
    const [start, end] = this.fullRange();
    const x = (t) => ((t - start) / (end - start)) * width;
    this.strip.setAttribute('viewBox', `0 0 ${width} ${height}`);
    const most = Math.max(1, ...this.data.counts.map(([, n]) => n));
    for (const [t, n] of this.data.counts) {
      // A square-root scale, so that a quiet stretch still shows beside a busy one.
      const h = Math.max(1, Math.sqrt(n / most) * (height - 12));
      const w = Math.max(1, x(t + this.data.interval) - x(t) - 0.5);
      this.strip.append(svg('rect', { class: 'bar', x: x(t), y: height - 12 - h, width: w, height: h }));
    }
    const { step, ticks } = timeTicks(start, end, width / 140);
    for (const t of ticks) {
      const label = svg('text', { x: x(t) + 2, y: height - 2 });
      label.textContent = tickLabel(t, step);
      this.strip.append(label);
    }
    const left = Math.max(0, x(range.from));
    const right = Math.min(width, x(range.to));
    if (right > left) this.strip.append(svg('rect', { class: 'view', x: left, y: 0, width: Math.max(2, right - left), height: height - 12 }));
    this.picking = svg('rect', { class: 'picking', y: 0, height: height - 12, width: 0, visibility: 'hidden' });
    this.strip.append(this.picking);
  }

  /** Drag on the strip to pick a range; a click centres the current range there. */
  listen() {
    let start = null;
    const at = (event) => event.clientX - this.strip.getBoundingClientRect().left;
    const timeAt = (px) => {
      const [from, to] = this.fullRange();
      return from + (px / this.strip.clientWidth) * (to - from);
    };
    this.strip.addEventListener('pointerdown', (event) => {
      if (!this.data || event.button !== 0) return;
      this.strip.setPointerCapture(event.pointerId);
      start = at(event);
    });
    this.strip.addEventListener('pointermove', (event) => {
      if (start === null || !this.picking) return;
      const x = at(event);
      this.picking.setAttribute('x', Math.min(x, start));
      this.picking.setAttribute('width', Math.abs(x - start));
      this.picking.setAttribute('visibility', 'visible');
    });
    this.strip.addEventListener('pointerup', (event) => {
      if (start === null) return;
      const x = at(event);
      const [a, b] = [Math.min(x, start), Math.max(x, start)];
      start = null;
      if (b - a >= 3) {
        this.onRange(timeAt(a), timeAt(b));
      } else if (this.range) {
        const half = (this.range.to - this.range.from) / 2;
        this.onRange(timeAt(x) - half, timeAt(x) + half);
      }
    });
  }
}
