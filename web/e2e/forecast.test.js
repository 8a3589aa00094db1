// A lot filling fast says so on its card: "full in ~N min", from GET /api/lots/{id}/forecast;
// a quiet lot's card says nothing of the kind; the filling lot's History continues its 24-hour
// chart with the expected curve (dashed, now to +60 minutes).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Server, browserSkip, launchBrowser, sel, waitForText, withDiagnostics } from './helpers.js';

const FILLING = 'lot_filling';
const QUIET = 'lot_quiet';

describe('forecast on the lot card', { skip: browserSkip }, () => {
  let server;
  let browser;

  before(async () => {
    server = await Server.start();
    await server.putLot(QUIET, 100, 'Quiet Lot');
    await server.putLot(FILLING, 100, 'Filling Lot');
    for (let n = 10; n <= 80; n += 10) await server.setOccupied(FILLING, n);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  test('a filling lot shows "full in ~", a quiet one does not', { timeout: 30_000 }, async () => {
    await withDiagnostics({ browser, server }, async () => {
      const page = await browser.open(server);
      await waitForText(page, sel.lotOccupied(FILLING), '80 / 100');
      const filling = `${sel.lotCard(FILLING)} [data-testid="lot-forecast"]`;
      await page.waitForFunction((s) => /^full in ~\d+ min$/.test(document.querySelector(s)?.textContent ?? ''), filling, {
        timeout: 10_000,
      });
      assert.equal(await page.isVisible(filling), true);
      const quiet = `${sel.lotCard(QUIET)} [data-testid="lot-forecast"]`;
      assert.equal(await page.isVisible(quiet), false);
      assert.deepEqual(browser.pageErrors, [], 'no uncaught errors in the page');
    });
  });

  test("a filling lot's History shows the dashed expected line with its points", { timeout: 30_000 }, async () => {
    await withDiagnostics({ browser, server }, async () => {
      const page = await browser.open(server);
      await waitForText(page, sel.lotOccupied(FILLING), '80 / 100');
      await page.click(`${sel.lotCard(FILLING)} [data-testid="lot-details"]`);
      await page.waitForSelector(`[data-testid="lot-detail"][data-lot-id="${FILLING}"]:not([hidden])`);
      const expected = 'svg[data-testid="day-chart"] path[data-testid="chart-expected"]';
      await page.waitForSelector(expected, { timeout: 10_000 });
      // Now, +15, +30 and +60 minutes.
      assert.equal(await page.getAttribute(expected, 'data-points'), '4');
      assert.match(await page.getAttribute(expected, 'd'), /^M[\d.]+ [\d.]+( L[\d.]+ [\d.]+){3}$/);
      const dash = await page.$eval(expected, (el) => getComputedStyle(el).strokeDasharray);
      assert.notEqual(dash, 'none', 'dashed');
      assert.equal(await page.textContent(`${expected} title`), 'Expected (forecast)');
      assert.deepEqual(browser.pageErrors, [], 'no uncaught errors in the page');
    });
  });
});
