// An alert raised by the server appears on every open dashboard, and acknowledging it on one
// page changes it on the others live (the status change is broadcast as an `alert` event),
// without reloading them.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Server, browserSkip, items, launchBrowser, sel, waitForAttr, waitForText, withDiagnostics } from './helpers.js';

const LOT = 'lot_alerts';

describe('alert acknowledge', { skip: browserSkip }, () => {
  let server;
  let browser;

  before(async () => {
    server = await Server.start();
    await server.putLot(LOT, 10, 'Alert Lot');
    await server.setOccupied(LOT, 5);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  test('acknowledged on page A, it is acknowledged on page B too', { timeout: 30_000 }, async () => {
    await withDiagnostics({ browser, server }, async () => {
      const pageA = await browser.open(server, { name: 'A' });
      const pageB = await browser.open(server, { name: 'B' });
      // A marker that a reload of B would lose.
      await pageB.evaluate(() => {
        window.__notReloaded = true;
      });
      assert.equal(await pageA.locator('[data-testid="alert-row"]').count(), 0, 'no alert before the lot fills');

      // 9 of 10: the lot reaches its 90 % warning threshold.
      await server.setOccupied(LOT, 9);
      const open = items(await server.alerts(`?lot=${LOT}&status=active`));
      assert.equal(open.length, 1, `one active alert for the lot: ${JSON.stringify(open)}`);
      const alert = open[0];
      assert.equal(alert.type, 'capacity_warning');

      for (const page of [pageA, pageB]) {
        await waitForAttr(page, sel.alertRow(alert._id), 'data-status', 'active');
        await waitForText(page, sel.lotOccupied(LOT), '9 / 10');
      }
      assert.equal(await pageB.locator('[data-testid="alert-row"]').count(), 1, 'exactly one alert row on B');

      await pageA.click(`${sel.alertRow(alert._id)} [data-testid="alert-ack"]`);

      // A shows the answer of its own request; B learns it from the stream.
      await waitForAttr(pageA, sel.alertRow(alert._id), 'data-status', 'acknowledged');
      await waitForAttr(pageB, sel.alertRow(alert._id), 'data-status', 'acknowledged');
      assert.equal(await pageB.evaluate(() => window.__notReloaded), true, 'page B was not reloaded');
      assert.equal(await pageB.getAttribute('body', 'data-last-sync'), 'start', 'B did not reload its snapshot: the change came over the stream');
      assert.equal(await pageB.isHidden(`${sel.alertRow(alert._id)} [data-testid="alert-ack"]`), true, 'B no longer offers Acknowledge');
      assert.equal(await pageB.isVisible(`${sel.alertRow(alert._id)} [data-testid="alert-resolve"]`), true, 'B still offers Resolve');

      // The server agrees.
      const after = items(await server.alerts(`?lot=${LOT}`)).find((a) => a._id === alert._id);
      assert.equal(after?.status, 'acknowledged');
      assert.ok(after.acknowledgedAt, 'acknowledgedAt is set');
      assert.deepEqual(browser.pageErrors, [], 'no uncaught errors in the pages');
    });
  });
});
