// A wall display recovers by itself from a long outage: the server is down for two minutes
// (more than the 2 + 4 + 8 + 16 + 32 s a five-attempt schedule lasts), and nobody clicks
// Retry. The page never says it gave up, comes back to 'connected' on its own once the server
// is back, and shows what was published after the restart.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import { Server, browserSkip, launchBrowser, sel, waitForConnection, waitForText, withDiagnostics } from './helpers.js';

const LOT = 'lot_outage';
const OUTAGE_MS = 120_000;
// The page's longest delay between attempts is 15 s, times up to 1.2 for jitter.
const RECOVERY_MS = 25_000;

describe('long outage', { skip: browserSkip }, () => {
  let server;
  let browser;

  before(async () => {
    server = await Server.start();
    await server.putLot(LOT, 100, 'Outage Lot');
    await server.setOccupied(LOT, 10);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  test('the dashboard recovers by itself after the server is down for two minutes', { timeout: OUTAGE_MS + 90_000 }, async (t) => {
    await withDiagnostics({ browser, server }, async () => {
      const page = await browser.open(server);
      await waitForText(page, sel.lotOccupied(LOT), '10 / 100');
      await page.evaluate((selector) => {
        const el = document.querySelector(selector);
        window.__states = [el.dataset.state];
        new MutationObserver(() => {
          if (el.dataset.state !== window.__states.at(-1)) window.__states.push(el.dataset.state);
        }).observe(el, { attributes: true, attributeFilter: ['data-state'] });
      }, sel.status);

      await server.stop();
      const downAt = Date.now();
      await page.waitForFunction(() => window.__states.some((s) => s !== 'connected'), null, { timeout: 10_000 });
      await sleep(OUTAGE_MS - (Date.now() - downAt));
      const statesDuringOutage = await page.evaluate(() => [...window.__states]);
      assert.ok(!statesDuringOutage.includes('failed'), `never gave up during the outage: ${statesDuringOutage.join(' -> ')}`);

      await server.start();
      const upAt = Date.now();
      await server.setOccupied(LOT, 77);
      await waitForConnection(page, 'connected', RECOVERY_MS);
      const recoveredMs = Date.now() - upAt;
      await waitForText(page, sel.lotOccupied(LOT), '77 / 100', 5000);
      // And live again: an update sent now arrives at once.
      await server.setOccupied(LOT, 78);
      await waitForText(page, sel.lotOccupied(LOT), '78 / 100', 3000);

      const states = await page.evaluate(() => window.__states);
      assert.ok(!states.includes('failed'), `never 'failed': ${states.join(' -> ')}`);
      assert.ok(await page.isHidden('#conn-retry'), 'no Retry button once live');
      t.diagnostic(`down ${Math.round((upAt - downAt) / 1000)} s; back to 'connected' ${recoveredMs} ms after the restart; states: ${states.join(' -> ')}`);
      assert.deepEqual(browser.pageErrors, [], 'no uncaught errors in the page');
    });
  });
});
