// A vehicle entering through a gate appears in the live vehicle feed with its plate, its
// direction, its lot and gate, exactly once, and the lot's count goes up.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Server, browserSkip, launchBrowser, sel, waitForText, withDiagnostics } from './helpers.js';

const LOT = 'lot_feed';
const PLATE = 'KA01AB1234';

describe('vehicle feed', { skip: browserSkip }, () => {
  let server;
  let browser;

  before(async () => {
    server = await Server.start();
    await server.putLot(LOT, 50, 'Feed Lot');
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  test('a gate entry appears in the feed with its plate', { timeout: 30_000 }, async () => {
    await withDiagnostics({ browser, server }, async () => {
      const page = await browser.open(server);
      await waitForText(page, sel.lotOccupied(LOT), '0 / 50');
      const rows = page.locator('[data-testid="feed-row"]');
      assert.equal(await rows.count(), 0, 'the feed starts empty');

      const answer = await server.gate(LOT, 'vehicle_entry', PLATE, 'north');
      assert.equal(answer.occupied, 1);

      const row = page.locator('[data-testid="feed-row"]', { hasText: PLATE });
      await row.waitFor({ state: 'visible', timeout: 5000 });
      assert.equal(await rows.count(), 1, 'exactly one feed row');
      assert.equal(await row.getAttribute('data-event'), 'vehicle_entry');
      const text = (await row.innerText()).replace(/\s+/g, ' ');
      assert.match(text, /Entry/, `the row says it is an entry: ${text}`);
      assert.match(text, new RegExp(PLATE), `the row shows the plate: ${text}`);
      assert.match(text, /Feed Lot/, `the row names the lot: ${text}`);
      assert.match(text, /gate north/, `the row names the gate: ${text}`);
      await waitForText(page, sel.lotOccupied(LOT), '1 / 50');
      assert.equal(await page.isHidden('#feed-empty'), true, 'the "waiting for vehicles" note is gone');
      assert.deepEqual(browser.pageErrors, [], 'no uncaught errors in the page');
    });
  });

  test('Pause holds new rows back and counts them; Resume shows them', { timeout: 30_000 }, async () => {
    await withDiagnostics({ browser, server }, async () => {
      const page = await browser.open(server);
      const rows = page.locator('[data-testid="feed-row"]');
      const before = await rows.count();

      await page.click('#feed-pause');
      assert.equal(await page.getAttribute('#feed-pause', 'aria-pressed'), 'true');
      assert.equal(await page.getAttribute('#feed', 'aria-live'), 'off', 'a paused feed is not read out');
      await server.gate(LOT, 'vehicle_entry', 'KA01PA0001', 'north');
      await server.gate(LOT, 'vehicle_entry', 'KA01PA0002', 'north');
      await waitForText(page, '#feed-held', '2 new while paused');
      assert.equal(await rows.count(), before, 'no row added while paused');

      await page.click('#feed-pause');
      await page.locator('[data-testid="feed-row"]', { hasText: 'KA01PA0002' }).waitFor({ state: 'visible', timeout: 5000 });
      assert.equal(await rows.count(), before + 2);
      assert.equal(await page.isHidden('#feed-held'), true, 'the count is gone');
      assert.equal(await page.textContent('#feed-pause'), 'Pause');
      assert.deepEqual(browser.pageErrors, [], 'no uncaught errors in the page');
    });
  });
});
