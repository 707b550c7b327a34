// Drives twinstore's explorer page (served at `/`) in headless Chromium as a user would:
// expands the hierarchy tree to thermostat67, adds its Temperature, zooms by dragging on
// the chart, reloads the view from its URL, reads the events table (and its "More"),
// downloads the CSV, stacks a second series, adds a merged series for a hierarchy node and
// a raw property of a twin without a model, and gives the token to a server that needs one. Every number it reports is read back
// from the page (what the chart drew, the table's cells, the CSV file); tests/explorer.rs
// checks them against hand-computed values and the store's own answers.
//
// Argument: JSON {chromium, url, tokenUrl, token, screenshot}. Prints one JSON object.

import { readFile } from 'node:fs/promises';
import { chromium } from 'playwright-core';

const config = JSON.parse(process.argv[2]);
const VIEWPORT = { width: 1280, height: 900 };
const out = { errors: [] };

const browser = await chromium.launch({ executablePath: config.chromium, args: ['--no-sandbox'] });
try {
  const context = await browser.newContext({ viewport: VIEWPORT, acceptDownloads: true });
  const page = await open(context, config.url);
  out.initial = await view(page);

  // The tree, down to thermostat67: each node's count as shown.
  out.counts = {};
  for (const path of [['ADT'], ['ADT', 'building1'], ['ADT', 'building1', 'floor1']]) {
    const node = page.locator(`li.node[data-path='${JSON.stringify(path)}']`);
    out.counts[path.join('/')] = await node.locator(':scope > .row .count').innerText();
    await node.locator(':scope > .row').click();
    await node.locator(':scope > ul > li').first().waitFor();
  }
  await page.locator("li.node[data-path='[\"ADT\",\"building1\",\"floor1\"]'] li.instance[data-twin='thermostat67'] > .row").click();
  await page.locator('#details tr[data-variable="Temperature"]').waitFor();
  out.variables = await page.locator('#details tr.variable').evaluateAll((rows) => rows.map((r) => r.dataset.variable));
  out.properties = await page.locator('#details table').last().innerText();
  await added(page, () => page.click('#details tr[data-variable="Temperature"] button[data-scope="twin"]'));
  out.first = await view(page);
  out.firstEvents = await eventsTable(page, 5);

  // Zoom: drag across the chart from between the first two points to between the third
  // and the fourth.
  const [p0, p1, p2, p3] = out.first.drawn[0].points;
  out.zoomDrag = { fromX: (p0.x + p1.x) / 2, toX: (p2.x + p3.x) / 2 };
  await added(page, () => drag(page, out.zoomDrag.fromX, out.zoomDrag.toX));
  out.zoomed = await view(page);
  out.zoomedEvents = await eventsTable(page, 2);
  out.url = page.url();

  // The CSV of what the chart shows.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
  out.csvName = download.suggestedFilename();
  out.csv = await readFile(await download.path(), 'utf8');

  // The same URL in a new page: the same view.
  const again = await open(context, out.url);
  await again.waitForFunction(() => window.explorer.drawnSeries().length > 0);
  out.reloaded = await view(again);
  await again.close();

  // A second series, stacked; then a merged series over floor1's twins.
  await page.click('[data-preset="all"]');
  await page.waitForFunction(() => window.explorer.drawnSeries()[0].interval !== undefined);
  await page.locator("li.instance[data-twin='thermostat68'] > .row").click();
  await page.locator('#details h2', { hasText: 'thermostat68' }).waitFor();
  await page.locator('#details tr[data-variable="Temperature"]').waitFor();
  await added(page, () => page.click('#details tr[data-variable="Temperature"] button[data-scope="twin"]'));
  await added(page, () => page.click('[data-axes="stacked"]'));
  out.stacked = await view(page);
  await added(page, () => page.click('#details tr[data-variable="Temperature"] button[data-scope="node"]'));
  out.merged = await view(page);

  // The events table's "More": stream-thermostat-0 has 60 events, shown 50 at a time.
  await page.locator("li.node:not([data-path]) > .row").click();
  await page.locator("li.instance[data-twin='stream-thermostat-0'] > .row").click();
  out.streamFirst = await eventsTable(page, 50);
  await page.click('#events-more');
  out.streamMore = await eventsTable(page, 60);
  out.moreHidden = await page.locator('#events-more').isHidden();
  // stream-thermostat-0 has no model (flattened records): its type is DefaultType, and its
  // Temperature is charted as a raw property.
  await page.locator('#details tr[data-property="Temperature"]').waitFor();
  out.streamVariables = await page.locator('#details tr.variable').evaluateAll((rows) => rows.map((r) => r.dataset.variable));
  await added(page, () => page.click('#details tr[data-property="Temperature"] button'));
  out.raw = await view(page);
  await page.screenshot({ path: config.screenshot });

  // Time: the pan button (back by half the range), a shift-drag on the chart (later by
  // 100 px), a drag on the availability strip (its second quarter).
  out.beforePan = (await view(page)).state.range;
  await added(page, () => page.click('#pan-left'));
  out.panned = (await view(page)).state.range;
  const width = (await view(page)).plotWidth;
  await page.keyboard.down('Shift');
  await added(page, () => drag(page, 64 + width / 2, 64 + width / 2 - 100));
  await page.keyboard.up('Shift');
  out.shiftDragged = (await view(page)).state.range;
  const strip = await page.locator('#availability').boundingBox();
  await added(page, async () => {
    await page.mouse.move(strip.x + strip.width / 4, strip.y + 10);
    await page.mouse.down();
    await page.mouse.move(strip.x + strip.width / 2, strip.y + 10, { steps: 4 });
    await page.mouse.up();
  });
  out.picked = (await view(page)).state.range;

  // Search: suggestions while typing, then the matches and the tree that follows them.
  await page.fill('#search', 'stream');
  await page.locator('#suggestions li').first().waitFor();
  out.suggestions = await page.locator('#suggestions li').allInnerTexts();
  await page.press('#search', 'Enter');
  await page.locator('#matches h2').waitFor();
  out.matches = await page.locator('#matches').innerText();
  await page.waitForFunction(() => !document.querySelector("#tree li.node[data-path='[\"ADT\"]']"));
  out.searchTree = await page.locator('#tree').innerText();

  // A server with a token: the page loads, asks for the token, then shows the tree.
  const guarded = await context.newPage();
  watch(guarded, true);
  await guarded.goto(config.tokenUrl);
  await guarded.locator('#token-dialog[open]').waitFor();
  out.tokenPrompt = await guarded.locator('#token-message').innerText();
  await guarded.fill('#token-input', config.token);
  await guarded.click('#token-form button[type=submit]');
  await guarded.waitForSelector('body[data-ready]');
  out.tokenTree = await guarded.locator('#tree').innerText();
  out.tokenKept = await guarded.evaluate(() => sessionStorage.getItem('twinstore.token'));
  await guarded.reload();
  await guarded.waitForSelector('body[data-ready]');
  out.promptAfterReload = await guarded.locator('#token-dialog[open]').count();
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));

/** Script errors and failed loads go to out.errors; on the page of the server with a
 * token, Chromium's notes of the 401s that make it ask go to out.refused instead. */
function watch(page, expectRefusals = false) {
  page.on('pageerror', (e) => out.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const refused = expectRefusals && m.text().includes('status of 401');
    (refused ? (out.refused = out.refused || []) : out.errors).push(`console: ${m.text()}`);
  });
}

async function open(context, url) {
  const page = await context.newPage();
  watch(page);
  await page.goto(url);
  await page.waitForSelector('body[data-ready]');
  return page;
}

/** Runs `action` and waits for the chart to be drawn again. */
async function added(page, action) {
  const before = await page.evaluate(() => window.explorer.renders());
  await action();
  await page.waitForFunction((n) => window.explorer.renders() > n, before);
}

/** What the page shows: the state, the chart's geometry and what it drew. */
async function view(page) {
  return page.evaluate(() => {
    const svg = document.querySelector('#chart svg');
    return {
      state: window.explorer.state(),
      drawn: window.explorer.drawnSeries(),
      interval: svg.dataset.interval,
      from: svg.dataset.from,
      to: svg.dataset.to,
      plotWidth: Number(svg.dataset.plotWidth),
      status: document.getElementById('status').textContent,
    };
  });
}

/** The events table once it shows `rows` rows: its title, header and cells. */
async function eventsTable(page, rows) {
  await page.waitForFunction((n) => document.querySelectorAll('#events-table tbody tr').length === n, rows);
  return page.evaluate(() => ({
    title: document.getElementById('events-title').textContent,
    header: [...document.querySelectorAll('#events-table thead th')].map((th) => th.textContent),
    rows: [...document.querySelectorAll('#events-table tbody tr')].map((tr) => [...tr.children].map((td) => td.textContent)),
  }));
}

/** A mouse drag across the chart at mid height, from and to x in the chart's coordinates. */
async function drag(page, fromX, toX) {
  const box = await page.locator('#chart svg').boundingBox();
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + fromX, y);
  await page.mouse.down();
  await page.mouse.move(box.x + (fromX + toX) / 2, y, { steps: 4 });
  await page.mouse.move(box.x + toX, y, { steps: 4 });
  await page.mouse.up();
}
