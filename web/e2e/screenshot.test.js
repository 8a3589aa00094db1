// A picture of the dashboard in use, for the docs: a few lots at different levels, alerts
// (one acknowledged), a contractor's capacity breach and an unauthorized vehicle, and a
// vehicle feed. Written as a full-page PNG of a 1280x900 viewport to $SCREENSHOT_PATH
// (default: a file in the temp folder, so a test run leaves the work tree clean; refresh the
// README's picture with scripts/dashboard-screenshot.sh).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

import { Server, VIEWPORT, browserSkip, items, launchBrowser, sel, waitForAttr, waitForText, withDiagnostics } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SCREENSHOT_PATH = path.resolve(process.env.SCREENSHOT_PATH || path.join(tmpdir(), 'parkstream-dashboard.png'));

const LOTS = [
  { id: 'lot_north', name: 'North Garage', totalSlots: 120, occupied: 61 },
  { id: 'lot_south', name: 'South Deck', totalSlots: 80, occupied: 52 },
  { id: 'lot_east', name: 'East Surface', totalSlots: 40, occupied: 30 },
  { id: 'lot_west', name: 'West Annex', totalSlots: 10, occupied: 0 },
];

/** Width and height from a PNG's IHDR chunk. */
function pngSize(buffer) {
  assert.equal(buffer.subarray(1, 4).toString('latin1'), 'PNG', 'the file is a PNG');
  return { width: buffer.readUInt32BE(16), height: buffer.readUInt32BE(20) };
}

describe('dashboard screenshot', { skip: browserSkip }, () => {
  let server;
  let browser;

  before(async () => {
    server = await Server.start();
    for (const lot of LOTS) {
      await server.putLot(lot.id, lot.totalSlots, lot.name);
      await server.setOccupied(lot.id, lot.occupied);
    }
    await server.putContractor('acme', {
      name: 'Acme',
      allocations: [{ parkingLotId: 'lot_west', allocatedCapacity: 1 }],
      plates: ['AC1', 'AC2'],
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  test(`writes a full-page screenshot to ${SCREENSHOT_PATH}`, { timeout: 40_000 }, async (t) => {
    await withDiagnostics({ browser, server }, async () => {
      const page = await browser.open(server);
      for (const lot of LOTS) await waitForText(page, sel.lotOccupied(lot.id), `${lot.occupied} / ${lot.totalSlots}`);

      // Live traffic while the page watches: gate events for the feed, lots filling up.
      const gates = [
        ['lot_north', 'vehicle_entry', 'KA01MJ4521', 'north'],
        ['lot_north', 'vehicle_entry', 'KA05NB7788', 'north'],
        ['lot_south', 'vehicle_entry', 'MH12DE1433', 'ramp'],
        ['lot_north', 'vehicle_exit', 'KA01MJ4521', 'south'],
        ['lot_west', 'vehicle_entry', 'AC1', 'west'],
        ['lot_west', 'vehicle_entry', 'AC2', 'west'], // Acme: 2 vehicles, 1 allocated
        ['lot_west', 'vehicle_entry', 'TN09ZX0042', 'west'], // no contractor registered it
      ];
      for (const [lot, event, plate, gate] of gates) await server.gate(lot, event, plate, gate);
      await server.setOccupied('lot_south', 73); // 91 %: warning
      await server.setOccupied('lot_east', 41); // over capacity: breach (and warning)

      // Acknowledge the South Deck warning from the page, so both states show.
      const southWarning = items(await server.alerts('?lot=lot_south&status=active')).find((a) => a.type === 'capacity_warning');
      assert.ok(southWarning, 'South Deck has a capacity warning');
      await waitForAttr(page, sel.alertRow(southWarning._id), 'data-status', 'active');
      await page.click(`${sel.alertRow(southWarning._id)} [data-testid="alert-ack"]`);
      await waitForAttr(page, sel.alertRow(southWarning._id), 'data-status', 'acknowledged');

      // Everything the server has is on the page.
      const alerts = items(await server.alerts()).filter((a) => a.status !== 'resolved');
      const violations = items(await server.violations()).filter((v) => v.status !== 'resolved');
      assert.ok(alerts.length >= 4, `warnings, a breach and a violation alert: ${JSON.stringify(alerts.map((a) => a.type))}`);
      assert.deepEqual(violations.map((v) => v.violationType).sort(), ['capacity_breach', 'unauthorized_vehicle']);
      for (const a of alerts) await waitForAttr(page, sel.alertRow(a._id), 'data-status', a.status);
      for (const v of violations) await waitForAttr(page, sel.violationRow(v._id), 'data-status', v.status);
      await page.locator('[data-testid="feed-row"]').nth(gates.length - 1).waitFor({ state: 'attached', timeout: 5000 });
      assert.equal(await page.locator('[data-testid="feed-row"]').count(), gates.length, 'one feed row per gate event');
      await waitForText(page, sel.lotOccupied('lot_east'), '41 / 40');
      await waitForText(page, sel.lotOccupied('lot_west'), '3 / 10');
      // Let the last frame paint.
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));

      await mkdir(path.dirname(SCREENSHOT_PATH), { recursive: true });
      const startedAt = Date.now();
      await page.screenshot({ path: SCREENSHOT_PATH, fullPage: true, animations: 'disabled', caret: 'hide' });
      const { size } = await stat(SCREENSHOT_PATH);
      const { width, height } = pngSize(await readFile(SCREENSHOT_PATH));
      t.diagnostic(`screenshot ${SCREENSHOT_PATH}: ${width}x${height}, ${size} bytes, taken in ${Date.now() - startedAt} ms`);
      assert.ok(size > 20 * 1024, `the screenshot is ${size} bytes, expected more than 20 KB`);
      assert.equal(width, VIEWPORT.width, 'the screenshot is as wide as the viewport');
      assert.ok(height >= VIEWPORT.height, `the screenshot is at least as tall as the viewport (${height})`);
      assert.deepEqual(browser.pageErrors, [], 'no uncaught errors in the page');
    });
  });
});
