// Drives tsiclient (npm, the JavaScript library TSI's explorer was built on) in headless
// Chromium against a twinstore server, unchanged: its ServerClient builds every URL as
// 'https://' + environmentFqdn + path. The page comes from another origin (a dashboard,
// as TSI users have them), served by playwright's request routing, so every call crosses
// origins with CORS preflights, as a real dashboard's would.
//
// Argument: JSON {chromium, fqdn, token, pageOrigin}. Prints one JSON object: each call's
// raw result (or its error), for tests/tsiclient.rs to check against hand-computed values.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const config = JSON.parse(process.argv[2]);
const require = createRequire(import.meta.url);
const bundle = readFileSync(require.resolve('tsiclient/tsiclient.js'), 'utf8');

const browser = await chromium.launch({
  executablePath: config.chromium,
  args: ['--no-sandbox', '--ignore-certificate-errors'],
});
try {
  // Chromium's Local Network Access: a page from a public origin reaches a loopback or
  // private address only once the user allows it (a prompt); granted here as a user would.
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    permissions: ['local-network-access'],
  });
  const page = await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  await page.route(`${config.pageOrigin}/**`, (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === '/tsiclient.js') {
      return route.fulfill({ contentType: 'application/javascript', body: bundle });
    }
    return route.fulfill({
      contentType: 'text/html',
      body: '<!DOCTYPE html><html><head><script src="/tsiclient.js"></script></head>' +
        '<body><div id="tree" style="width:300px;height:400px"></div></body></html>',
    });
  });
  await page.goto(`${config.pageOrigin}/dashboard.html`);
  const results = await page.evaluate(calls, { fqdn: config.fqdn, token: config.token });
  results.consoleLog = logs;
  console.log(JSON.stringify(results));
} finally {
  await browser.close();
}

// Runs in the page. Every call gets 20 s: tsiclient's promise never settles when a
// request fails at the network level (a refused preflight, a TLS error).
async function calls({ fqdn, token }) {
  const tsi = new window.TsiClient();
  const server = tsi.server;
  const out = {};
  const within = (promise) =>
    Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve('__TIMEOUT__'), 20000))]);
  const record = async (name, make) => {
    try {
      out[name] = await within(make());
    } catch (e) {
      // tsiclient rejects with the XMLHttpRequest itself.
      out[name] = { rejected: true, status: e && e.status, body: e && e.responseText, text: String(e) };
    }
  };
  const span = { from: '2026-01-01T00:00:00.000Z', to: '2026-01-01T00:04:00.000Z' };
  const temperature = {
    kind: 'numeric',
    value: { tsx: '$event.Temperature.Double' },
    filter: null,
    aggregation: { tsx: 'avg($value)' },
  };
  // The body tsiclient itself builds for a chart: TsqExpression.toTsq() (aggregateSeries).
  const expression = new tsi.ux.TsqExpression(
    { timeSeriesId: ['thermostat67'] },
    { Avg: temperature },
    { from: new Date(span.from), to: new Date(span.to), bucketSize: '2m' },
    '#00f',
    'thermostat67',
  );
  await record('tsq', () =>
    server.getTsqResults(token, fqdn, [
      { getEvents: { timeSeriesId: ['thermostat67'], searchSpan: span, projectedProperties: [{ name: 'Temperature', type: 'Double' }] } },
      { getSeries: { timeSeriesId: ['thermostat68'], searchSpan: span, projectedVariables: ['Temp'] } },
      {
        aggregateSeries: {
          hierarchyPath: { hierarchy: 'Building', path: ['B1'] },
          merge: true,
          searchSpan: span,
          interval: 'PT4M',
          projectedVariables: ['Temp'],
        },
      },
      expression.toTsq(),
      { getEvents: { timeSeriesId: ['nosuchtwin'], searchSpan: span } },
    ]),
  );
  await record('tsqWarm', () => server.getTsqResults(token, fqdn, [expression.toTsq()], () => {}, false, 'WarmStore'));
  await record('instances', () => server.getTimeseriesInstances(token, fqdn));
  await record('instancesById', () => server.getTimeseriesInstances(token, fqdn, 1, [['thermostat68']]));
  await record('types', () => server.getTimeseriesTypes(token, fqdn));
  await record('hierarchies', () => server.getTimeseriesHierarchies(token, fqdn));
  await record('modelSettings', () => server.getTimeseriesModel(token, fqdn));
  await record('suggestions', () => server.getTimeseriesInstancesSuggestions(token, fqdn, 'thermo'));
  await record('search', () => server.getTimeseriesInstancesSearch(token, fqdn, 'thermostat68'));
  await record('pathSearch', () =>
    server.getTimeseriesInstancesPathSearch(token, fqdn, {
      searchString: '',
      path: ['Building', 'B1'],
      instances: { recursive: false, sort: { by: 'DisplayName' }, highlights: true, pageSize: 10 },
      hierarchies: { expand: { kind: 'OneLevel' }, sort: { by: 'Name' }, pageSize: 10 },
    }),
  );
  await record('availability', () => server.getAvailability(token, fqdn, '?api-version=2020-07-31'));
  await record('eventSchema', () =>
    server.getEventSchema(token, fqdn, Date.parse(span.from), Date.parse(span.to)),
  );
  await record('wrongToken', () => server.getTimeseriesTypes('not-the-token', fqdn));
  // TSI explorer's left pane, as tsiclient draws it from the search API.
  const errors = [];
  const tree = new tsi.ux.HierarchyNavigation(document.getElementById('tree'));
  await within(
    tree.render(fqdn, () => Promise.resolve(token), {
      onError: (title, message) => errors.push([title, message]),
      onInstanceClick: () => {},
    }),
  );
  const deadline = Date.now() + 10000;
  while (!document.getElementById('tree').innerText.includes('Building') && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  out.treeText = document.getElementById('tree').innerText;
  out.treeErrors = errors;
  return out;
}
