// What an operator works with, on a server that checks tokens and counts penalties in euros
// (`--auth jwt --currency EUR`): actions offered only to roles that may act (the page asks
// `GET /api/session`), alerts most severe first and oldest first within a severity, penalties
// as money, a capacity alert's lot figure now beside the one it was raised with, and the
// opt-in notification for new critical alerts.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Server, browserSkip, items, launchBrowser, mintToken, sel, waitForAttr, waitForText, withDiagnostics } from './helpers.js';

const SECRET = 'an-e2e-secret-of-enough-length';
const SEVERITY_RANK = { critical: 0, high: 1, medium: 2, low: 3 };

/** The ids of the alert rows, top to bottom. */
const alertOrder = (page) => page.$$eval('[data-testid="alert-row"]', (rows) => rows.map((r) => r.dataset.alertId));

describe('operator work', { skip: browserSkip }, () => {
  let server;
  let browser;
  let tokens;

  before(async () => {
    server = await Server.start({ extraArgs: ['--auth', 'jwt', '--jwt-secret', SECRET, '--currency', 'EUR'] });
    server.token = await mintToken('admin', SECRET);
    tokens = { viewer: await mintToken('viewer', SECRET), operator: await mintToken('operator', SECRET) };
    await server.putLot('lot_roles', 10, 'Roles Lot');
    await server.setOccupied('lot_roles', 9); // a capacity warning
    // Acme may park 1 in lot_pen and parks 2: a capacity breach with a penalty (500 a vehicle).
    await server.putLot('lot_pen', 50, 'Penalty Lot');
    await server.putContractor('acme', {
      name: 'Acme',
      allocations: [{ parkingLotId: 'lot_pen', allocatedCapacity: 1 }],
      plates: ['AC1', 'AC2'],
      penaltyPerVehicle: 1250,
    });
    await server.gate('lot_pen', 'vehicle_entry', 'AC1', 'west');
    await server.gate('lot_pen', 'vehicle_entry', 'AC2', 'west');
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  test('a viewer is offered no Acknowledge or Resolve, an operator is', { timeout: 30_000 }, async () => {
    await withDiagnostics({ browser, server }, async () => {
      const [alert] = items(await server.alerts('?lot=lot_roles&status=active'));
      const [violation] = items(await server.violations('?contractor=acme'));
      assert.ok(alert && violation, 'an open alert and violation to act on');

      const viewer = await browser.open(server, { name: 'viewer', path: `/?token=${tokens.viewer}` });
      await waitForAttr(viewer, sel.alertRow(alert._id), 'data-status', 'active');
      await waitForAttr(viewer, sel.violationRow(violation._id), 'data-status', 'pending');
      for (const testid of ['alert-ack', 'alert-resolve', 'violation-ack', 'violation-resolve']) {
        assert.equal(await viewer.locator(`[data-testid="${testid}"]`).count(), 0, `a viewer has no ${testid}`);
      }
      await viewer.close();

      // The token cookie is now the operator's.
      const operator = await browser.open(server, { name: 'operator', path: `/?token=${tokens.operator}` });
      await waitForAttr(operator, sel.alertRow(alert._id), 'data-status', 'active');
      assert.equal(await operator.isVisible(`${sel.alertRow(alert._id)} [data-testid="alert-ack"]`), true);
      assert.equal(await operator.isVisible(`${sel.alertRow(alert._id)} [data-testid="alert-resolve"]`), true);
      assert.equal(await operator.isVisible(`${sel.violationRow(violation._id)} [data-testid="violation-ack"]`), true);
      await operator.close();
      assert.deepEqual(browser.pageErrors, [], 'no uncaught errors in the pages');
    });
  });

  test('a penalty shows in the server currency', { timeout: 30_000 }, async () => {
    await withDiagnostics({ browser, server }, async () => {
      const [violation] = items(await server.violations('?contractor=acme'));
      assert.equal(violation.penalty, 1250);
      const page = await browser.open(server, { path: `/?token=${tokens.viewer}` });
      const penalty = `${sel.violationRow(violation._id)} [data-testid="violation-penalty"]`;
      const expected = await page.evaluate(() => new Intl.NumberFormat(undefined, { style: 'currency', currency: 'EUR' }).format(1250));
      assert.match(expected, /€/);
      await waitForText(page, penalty, expected);
      await page.close();
    });
  });

  test('alerts are ordered by severity, oldest first within one', { timeout: 30_000 }, async () => {
    await withDiagnostics({ browser, server }, async () => {
      const page = await browser.open(server, { path: `/?token=${tokens.operator}` });
      // Raised while the page watches: mediums (warnings) at several times, a high (full)
      // and a critical (over capacity), the most severe ones last.
      for (const [lot, occupied] of [['lot_a', 9], ['lot_b', 10], ['lot_c', 11], ['lot_d', 9]]) {
        await server.putLot(lot, 10);
        await server.setOccupied(lot, occupied);
      }
      const open = items(await server.alerts('?status=active'));
      // Four warnings here, one full, one over capacity; from before, a warning and Acme's
      // violation_detected.
      assert.equal(open.length, 8, JSON.stringify(open));
      const expected = [...open]
        .sort(
          (a, b) =>
            SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
            Date.parse(a.createdAt) - Date.parse(b.createdAt) ||
            (a._id < b._id ? -1 : 1),
        )
        .map((a) => a._id);
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid="alert-row"]').length === n, open.length);
      assert.deepEqual(await alertOrder(page), expected);
      const severities = await page.$$eval('[data-testid="alert-row"]', (rows) => rows.map((r) => r.dataset.severity));
      assert.deepEqual(severities.slice(0, 2), ['critical', 'high']);
      // The oldest warning (lot_roles, raised before the page opened) heads the mediums.
      const oldestWarning = open.find((a) => a.parkingLotId === 'lot_roles');
      const order = await alertOrder(page);
      assert.equal(order[severities.indexOf('medium')], oldestWarning._id);
      await page.close();
    });
  });

  test("a capacity alert shows its lot's figure now, live", { timeout: 30_000 }, async () => {
    await withDiagnostics({ browser, server }, async () => {
      await server.putLot('lot_now', 10, 'Now Lot');
      const page = await browser.open(server, { path: `/?token=${tokens.operator}` });
      await server.setOccupied('lot_now', 12);
      const breach = items(await server.alerts('?lot=lot_now&status=active')).find((a) => a.type === 'capacity_breach');
      assert.ok(breach, 'over capacity raises a breach');
      const row = sel.alertRow(breach._id);
      await waitForText(page, `${row} [data-testid="alert-now"]`, 'now 12/10');
      assert.match(await page.textContent(`${row} .item-msg`), /12 vehicles in 10 slots/);

      await server.setOccupied('lot_now', 14);
      await waitForText(page, `${row} [data-testid="alert-now"]`, 'now 14/10');
      await waitForText(page, sel.lotOccupied('lot_now'), '14 / 10');
      assert.match(await page.textContent(`${row} .item-msg`), /12 vehicles in 10 slots/, 'the message keeps the figure when raised');
      await page.close();
    });
  });

  test('the critical-alert toggle is remembered, and only a new critical alert notifies', { timeout: 40_000 }, async () => {
    await withDiagnostics({ browser, server }, async () => {
      // Observe the Notification API (and the tone's oscillators) without a real desktop:
      // permission lives in the page's storage so it survives a reload as a grant would.
      await browser.context.addInitScript(() => {
        window.__notifications = [];
        window.__tones = 0;
        class StubNotification {
          constructor(title, options = {}) {
            window.__notifications.push({ title, body: options.body, tag: options.tag });
          }
          static get permission() {
            return localStorage.getItem('stub.permission') || 'default';
          }
          static requestPermission() {
            localStorage.setItem('stub.permission', 'granted');
            return Promise.resolve('granted');
          }
        }
        Object.defineProperty(window, 'Notification', { value: StubNotification, configurable: true, writable: true });
        const Context = window.AudioContext;
        if (Context) {
          const create = Context.prototype.createOscillator;
          Context.prototype.createOscillator = function createOscillator() {
            window.__tones += 1;
            return create.call(this);
          };
        }
      });
      await server.putLot('lot_n1', 10, 'First Lot');
      await server.putLot('lot_n2', 10, 'Second Lot');
      const page = await browser.open(server, { path: `/?token=${tokens.operator}` });
      const toggle = '[data-testid="notify-toggle"]';
      assert.equal(await page.isChecked(toggle), false, 'off by default');
      await page.check(toggle);
      assert.equal(await page.evaluate(() => localStorage.getItem('parkstream.notifyCritical')), 'on');
      assert.equal(await page.evaluate(() => Notification.permission), 'granted', 'permission was asked on enabling');

      // A critical alert raised while the page is away arrives in the next snapshot: silent.
      await server.setOccupied('lot_n1', 11);
      const [old] = items(await server.alerts('?lot=lot_n1&status=active')).filter((a) => a.severity === 'critical');
      await page.reload({ waitUntil: 'load' });
      await waitForAttr(page, sel.status, 'data-state', 'connected');
      assert.equal(await page.isChecked(toggle), true, 'remembered across a reload');
      await waitForAttr(page, sel.alertRow(old._id), 'data-status', 'active');

      // A new one live: one notification (not for the medium warning raised with it).
      await server.setOccupied('lot_n2', 11);
      const [fresh] = items(await server.alerts('?lot=lot_n2&status=active')).filter((a) => a.severity === 'critical');
      await waitForAttr(page, sel.alertRow(fresh._id), 'data-status', 'active');
      await page.waitForFunction(() => window.__notifications.length > 0, null, { timeout: 5000 });
      const shown = await page.evaluate(() => window.__notifications);
      assert.deepEqual(shown, [
        { title: 'Critical alert: Capacity breach', body: `Second Lot: ${fresh.message}`, tag: fresh._id },
      ]);
      assert.ok((await page.evaluate(() => window.__tones)) >= 1, 'a tone was played');

      // Off again: nothing more.
      await page.uncheck(toggle);
      assert.equal(await page.evaluate(() => localStorage.getItem('parkstream.notifyCritical')), 'off');
      await server.putLot('lot_n3', 10);
      await server.setOccupied('lot_n3', 11);
      const [third] = items(await server.alerts('?lot=lot_n3&status=active')).filter((a) => a.severity === 'critical');
      await waitForAttr(page, sel.alertRow(third._id), 'data-status', 'active');
      assert.equal(await page.evaluate(() => window.__notifications.length), 1);
      assert.deepEqual(browser.pageErrors, [], 'no uncaught errors in the pages');
    });
  });
});
