// The dashboard's look-ups on a server that checks tokens and counts in euros: finding a
// vehicle by plate (in any spelling; an unknown one is "not seen"), a lot's stored history
// (the 24-hour and 7-day charts and its busiest hours), and a contractor's statement (totals
// from the JSON form, the CSV fetched with the cookie and offered as a Blob link).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

import { Server, browserSkip, items, launchBrowser, mintToken, sel, waitForText, withDiagnostics } from './helpers.js';

const SECRET = 'an-e2e-secret-of-enough-length';

describe('look-ups', { skip: browserSkip }, () => {
  let server;
  let browser;
  let page;

  before(async () => {
    server = await Server.start({ extraArgs: ['--auth', 'jwt', '--jwt-secret', SECRET, '--currency', 'EUR'] });
    server.token = await mintToken('admin', SECRET);
    await server.putLot('lot_a', 20, 'Alpha Lot');
    await server.putLot('lot_b', 50, 'Bravo Lot');
    await server.gate('lot_a', 'vehicle_entry', 'KA01AB1234', 'north');
    for (const occupied of [12, 30, 44]) await server.setOccupied('lot_b', occupied);
    // Acme may park 1 in lot_a and parks 2: a capacity breach, 1 vehicle over at 700 €.
    await server.putContractor('acme', {
      name: 'Acme',
      allocations: [{ parkingLotId: 'lot_a', allocatedCapacity: 1 }],
      plates: ['AC1', 'AC2'],
      penaltyPerVehicle: 700,
    });
    await server.gate('lot_a', 'vehicle_entry', 'AC1', 'west');
    await server.gate('lot_a', 'vehicle_entry', 'AC2', 'west');
    browser = await launchBrowser();
    page = await browser.open(server, { path: `/?token=${await mintToken('operator', SECRET)}` });
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  test('a plate entered at a gate is found in its lot, in any spelling; an unknown one is not seen', { timeout: 30_000 }, async () => {
    await withDiagnostics({ browser, server }, async () => {
      await page.fill('[data-testid="vehicle-plate"]', 'ka-01 ab 1234');
      await page.click('[data-testid="vehicle-find"]');
      const found = '[data-testid="vehicle-status"][data-inside="true"]';
      await page.waitForSelector(found, { timeout: 5000 });
      assert.equal(await page.getAttribute(found, 'data-lot'), 'lot_a');
      assert.match(await page.textContent(found), /KA01AB1234 is inside Alpha Lot \(gate north\) since/);
      const visits = await page.$$eval('[data-testid="vehicle-visit"]', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
      assert.equal(visits.length, 1);
      assert.deepEqual([visits[0][0], visits[0][1], visits[0][3], visits[0][4]], ['Alpha Lot', 'north', '—', 'inside']);

      await page.fill('[data-testid="vehicle-plate"]', 'ZZ 999');
      await page.click('[data-testid="vehicle-find"]');
      await page.waitForFunction(() => /not seen/.test(document.querySelector('[data-testid="vehicle-status"]')?.textContent ?? ''));
      assert.match(await page.textContent('[data-testid="vehicle-status"]'), /^ZZ999: not seen\./);
      assert.equal(await page.locator('[data-testid="vehicle-visit"]').count(), 0);
      assert.deepEqual(browser.pageErrors, []);
    });
  });

  test('a lot card opens its history: both charts have points, the busiest hours are listed', { timeout: 30_000 }, async () => {
    await withDiagnostics({ browser, server }, async () => {
      await page.click(`${sel.lotCard('lot_b')} [data-testid="lot-details"]`);
      await page.waitForSelector('[data-testid="lot-detail"][data-lot-id="lot_b"]:not([hidden])');
      await waitForText(page, '#lot-detail-h', 'Bravo Lot: occupancy history');
      await page.waitForSelector('[data-testid="busiest-hour"]', { timeout: 5000 });
      for (const chart of ['day-chart', 'week-chart']) {
        const svg = `svg[data-testid="${chart}"]`;
        const points = Number(await page.getAttribute(svg, 'data-points'));
        assert.ok(points >= 1, `${chart} has points (${points})`);
        const d = await page.getAttribute(`${svg} [data-testid="chart-line"]`, 'd');
        assert.match(d, /^M[\d.]+ [\d.]+ H[\d.]+/, `${chart} draws a line`);
        assert.match(await page.getAttribute(svg, 'aria-label'), /between 0 and \d+ of 50/);
      }
      // Created at 0, then 12, 30 and 44: in one hour its mean is (0+12+30+44)/4 = 21.5 of 50,
      // 43%; should the hour turn meanwhile, each hour's mean is the server's hourly rollup.
      const from = new Date(Date.now() - 3 * 3_600_000).toISOString();
      const { buckets } = await server.call('GET', `/api/history/occupancy?lot=lot_b&from=${from}&step=1h`);
      const expected = buckets.map((b) => `${Math.round((b.mean / b.totalSlots) * 100)}%`);
      if (buckets.length === 1) assert.deepEqual(expected, ['43%']);
      const hours = await page.$$eval('[data-testid="busiest-hour"]', (li) => li.map((l) => l.textContent));
      assert.equal(hours.length, buckets.length, JSON.stringify(hours));
      for (const text of hours) {
        const [, rate] = /^\d\d:00–\d\d:00 (\d+%) occupied on average$/.exec(text) ?? [];
        assert.ok(expected.includes(rate), `${text} is one of the hourly means ${expected}`);
      }
      await page.click('#lot-detail-close');
      assert.equal(await page.isHidden('[data-testid="lot-detail"]'), true);
    });
  });

  test("a contractor's statement: the totals and the CSV with the violation's row", { timeout: 30_000 }, async () => {
    await withDiagnostics({ browser, server }, async () => {
      const [violation] = items(await server.violations('?contractor=acme'));
      assert.equal(violation?.penalty, 700);
      await page.fill('[data-testid="statement-contractor"]', 'acme');
      await page.click('[data-testid="statement-show"]');
      const expected = await page.evaluate(() => new Intl.NumberFormat(undefined, { style: 'currency', currency: 'EUR' }).format(700));
      await waitForText(page, '[data-testid="statement-total"]', expected);
      assert.match(await page.textContent('[data-testid="statement-status"]'), /^1 violation, penalties/);

      // The file as the browser saves it (the page's CSP keeps even the page from reading the Blob back).
      const [download] = await Promise.all([page.waitForEvent('download', { timeout: 5000 }), page.click('[data-testid="statement-csv"]')]);
      const link = '[data-testid="statement-link"]';
      await page.waitForSelector(`${link}:not([hidden])`);
      assert.match(await page.getAttribute(link, 'href'), /^blob:/);
      assert.match(download.suggestedFilename(), /^statement-acme-.*\.csv$/);
      assert.equal(await page.getAttribute(link, 'download'), download.suggestedFilename());
      const csv = await readFile(await download.path(), 'utf8');
      const rows = csv.split('\r\n').filter(Boolean);
      assert.equal(rows[0], 'violationId,type,lot,timestamp,plateNumber,status,penalty');
      assert.equal(rows.length, 2, csv);
      assert.equal(rows[1], [violation._id, 'capacity_breach', 'lot_a', violation.timestamp, '', violation.status, '700'].join(','));
      assert.deepEqual(browser.pageErrors, []);
    });
  });
});
