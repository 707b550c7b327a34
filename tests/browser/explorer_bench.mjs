// Times the explorer page in headless Chromium against a large store (run by
// examples/explorer_bench.rs): from the click on "Add" to the chart drawn and painted, for
// one twin's Temperature over the whole day, then for its floor's merged series added next
// to it; and from navigation to the chart drawn for a bookmarked view: the day, and the
// fleet-wide merged series (the whole ADT hierarchy). Times are measured in the page
// (performance.now()), the query's own time from the browser's resource timing.
//
// Argument: JSON {chromium, url, runs, typeId, day: [from, to]}. Prints one JSON object: every run's figures.

import { chromium } from 'playwright-core';

const config = JSON.parse(process.argv[2]);
const out = { runs: [], fleet: [], errors: [] };
const browser = await chromium.launch({ executablePath: config.chromium, args: ['--no-sandbox'] });
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  for (let run = 0; run < config.runs; run += 1) {
    const page = await open(context, config.url);
    // A different floor each run: building-<b>, floor-<b>-<f>.
    const b = run % 10;
    const f = (run * 3 + 1) % 10;
    const path = ['ADT', `building-${b}`, `floor-${b}-${f}`];
    for (let depth = 1; depth <= path.length; depth += 1) {
      const node = page.locator(`li.node[data-path='${JSON.stringify(path.slice(0, depth))}']`);
      await node.locator(':scope > .row').click();
      await node.locator(':scope > ul > li').first().waitFor();
    }
    const floor = page.locator(`li.node[data-path='${JSON.stringify(path)}']`);
    const thermostat = floor.locator("li.instance[data-twin^='thermostat-']").first();
    const twin = await thermostat.getAttribute('data-twin');
    await thermostat.locator(':scope > .row').click();
    await page.locator('#details tr[data-variable="Temperature"]').waitFor();
    const single = await page.evaluate(clickUntilDrawn, '#details tr[data-variable="Temperature"] button[data-scope="twin"]');
    const withFloor = await page.evaluate(clickUntilDrawn, '#details tr[data-variable="Temperature"] button[data-scope="node"]');
    out.runs.push({ twin, floor: path.join('/'), single, withFloor });
    await page.close();

    // The fleet: a bookmarked view with the merged series over the whole hierarchy.
    const series = JSON.stringify({ path: ['ADT'], v: 'Temperature', type: config.typeId });
    const view = `from=${config.day[0]}&to=${config.day[1]}&axes=shared&s=${encodeURIComponent(series)}`;
    const fleetPage = await open(context, `${config.url}#${view}`, false);
    await fleetPage.waitForFunction(() => window.explorer && window.explorer.drawnSeries().length === 1, null, { timeout: 60000 });
    out.fleet.push(await fleetFigures(fleetPage));
    await fleetPage.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));

async function open(context, url, ready = true) {
  const page = await context.newPage();
  page.on('pageerror', (e) => out.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && out.errors.push(`console: ${m.text()}`));
  await page.goto(url);
  if (ready) await page.waitForSelector('body[data-ready]', { timeout: 60000 });
  return page;
}

/** Navigation to the fleet's chart drawn (performance.now() counts from the navigation). */
async function fleetFigures(page) {
  return page.evaluate(() => {
    const queries = performance.getEntriesByType('resource').filter((e) => e.name.includes('timeseries/query'));
    const drawn = window.explorer.drawnSeries()[0];
    return {
      ms: window.explorer.drawnAt(),
      queryMs: queries.map((q) => Math.round(q.duration * 10) / 10),
      // Every request of the page: path, start and duration (ms since the navigation).
      requests: performance.getEntriesByType('resource').map((e) => [
        new URL(e.name).pathname, Math.round(e.startTime), Math.round(e.duration),
      ]),
      points: drawn.points.length,
      interval: drawn.interval,
    };
  });
}

// In the page: clicks `selector`, waits for the chart's next drawing and the frame after
// it, and reports the times since the click.
async function clickUntilDrawn(selector) {
  const chart = document.querySelector('#chart svg');
  const before = window.explorer.renders();
  const drawn = new Promise((resolve) => {
    const watcher = new MutationObserver(() => {
      if (window.explorer.renders() > before) {
        watcher.disconnect();
        resolve(performance.now());
      }
    });
    watcher.observe(chart, { attributes: true, attributeFilter: ['data-renders'] });
  });
  const start = performance.now();
  document.querySelector(selector).click();
  const drawnAt = await drawn;
  await new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const painted = performance.now();
  const queries = performance
    .getEntriesByType('resource')
    .filter((e) => e.name.includes('timeseries/query') && e.startTime >= start);
  const series = window.explorer.drawnSeries();
  return {
    ms: Math.round((painted - start) * 10) / 10,
    drawnMs: Math.round((drawnAt - start) * 10) / 10,
    queryMs: queries.map((q) => Math.round(q.duration * 10) / 10),
    points: series.map((s) => s.points.length),
    interval: series.length ? series[0].interval : null,
  };
}
