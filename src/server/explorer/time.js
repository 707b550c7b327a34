// Times: bucket intervals, ISO 8601, tick steps and labels. Every time is milliseconds
// since the Unix epoch, shown in UTC (the store's times are UTC).

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** The durations a bucket or a tick step may take, shortest first. */
const STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500,
  SECOND, 2 * SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND,
  MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
  DAY, 2 * DAY, 7 * DAY, 30 * DAY, 365 * DAY,
];

/** The shortest step of at least `target` milliseconds (the longest step past them). */
export function stepAtLeast(target) {
  return STEPS.find((s) => s >= target) ?? STEPS[STEPS.length - 1];
}

/** The bucket interval for `span` ms drawn `widthPx` wide: about one bucket per two pixels. */
export function bucketInterval(span, widthPx) {
  return stepAtLeast(span / Math.max(1, widthPx / 2));
}

/** `ms` as an ISO 8601 duration: PT0.5S, PT5S, PT1M, PT3H, P1D. */
export function isoDuration(ms) {
  if (ms % DAY === 0) return `P${ms / DAY}D`;
  if (ms % HOUR === 0) return `PT${ms / HOUR}H`;
  if (ms % MINUTE === 0) return `PT${ms / MINUTE}M`;
  return `PT${ms / SECOND}S`;
}

/** `ms` as the server writes times: ISO 8601 UTC, milliseconds only when there are some. */
export function isoTime(ms) {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** Parses an ISO 8601 time; NaN when it is not one. */
export function parseTime(text) {
  return typeof text === 'string' ? Date.parse(text) : NaN;
}

/** `[from, to)` widened to whole buckets of `interval` (the server's buckets start at the epoch). */
export function alignSpan(from, to, interval) {
  const start = Math.floor(from / interval) * interval;
  return [start, Math.max(start + interval, Math.ceil(to / interval) * interval)];
}

/** A label for the tick at `t` when ticks are `step` apart. */
export function tickLabel(t, step) {
  const iso = new Date(t).toISOString();
  if (step < SECOND) return iso.slice(11, 23);
  if (step < MINUTE) return iso.slice(11, 19);
  if (step < DAY) {
    return t % DAY === 0 ? iso.slice(0, 10) : iso.slice(11, 16);
  }
  return iso.slice(0, 10);
}

/** Tick times between `from` and `to`, about `count` of them, on round steps. */
export function timeTicks(from, to, count) {
  const step = stepAtLeast((to - from) / Math.max(1, count));
  const ticks = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t);
  return { step, ticks };
}

/** A time for people: `2026-01-01 08:00:00.5`. */
export function showTime(ms) {
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.?0*Z$/, '');
}

/** A duration for people: 1 h 30 min. */
export function showDuration(ms) {
  const parts = [];
  for (const [unit, name] of [[DAY, 'd'], [HOUR, 'h'], [MINUTE, 'min'], [SECOND, 's'], [1, 'ms']]) {
    const n = Math.floor(ms / unit);
    if (n > 0) parts.push(`${n} ${name}`);
    ms -= n * unit;
  }
  return parts.slice(0, 2).join(' ') || '0 s';
}
