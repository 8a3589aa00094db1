// A contractor's own page: signed in with a contractor's token, the dashboard shows the
// contractor layout (its page on top, no vehicle feed): its lots with its allocation against
// its vehicles inside, those vehicles with their stay (kept live as gates report), its
// violations and penalties in the server's currency, and nothing of another contractor.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { BIN, Server, browserSkip, items, launchBrowser, mintToken, sel, waitForText, withDiagnostics } from './helpers.js';

const SECRET = 'an-e2e-secret-of-enough-length';

async function contractorToken(id) {
  const args = ['token', '--role', 'contractor', '--contractor', id, '--jwt-secret', SECRET];
  return (await promisify(execFile)(BIN, args)).stdout.trim();
}

const rows = (page, testid) => page.$$eval(`[data-testid="${testid}"]`, (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));

describe("a contractor's page", { skip: browserSkip }, () => {
  let server;
  let browser;

  before(async () => {
    server = await Server.start({ extraArgs: ['--auth', 'jwt', '--jwt-secret', SECRET, '--currency', 'EUR'] });
    server.token = await mintToken('admin', SECRET);
    await server.putLot('lot_a', 20, 'Alpha Lot');
    await server.putLot('lot_z', 20, 'Zulu Lot');
    await server.putContractor('acme', {
      name: 'Acme',
      allocations: [{ parkingLotId: 'lot_a', allocatedCapacity: 1 }],
      plates: ['AC1', 'AC2', 'AC3'],
      penaltyPerVehicle: 300,
    });
    await server.putContractor('zen', {
      name: 'Zen',
      allocations: [{ parkingLotId: 'lot_z', allocatedCapacity: 1 }],
      plates: ['ZN1', 'ZN2'],
      penaltyPerVehicle: 900,
    });
    // Each parks one over its allocation: a capacity breach each.
    for (const [lot, plate] of [['lot_a', 'AC1'], ['lot_a', 'AC2'], ['lot_z', 'ZN1'], ['lot_z', 'ZN2']]) {
      await server.gate(lot, 'vehicle_entry', plate, 'main');
    }
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  test('shows its own lots, vehicles, violations and penalties, and nothing of another contractor', { timeout: 30_000 }, async () => {
    await withDiagnostics({ browser, server }, async () => {
      const [own] = items(await server.violations('?contractor=acme'));
      assert.equal(own?.penalty, 300);
      const page = await browser.open(server, { name: 'acme', path: `/?token=${await contractorToken('acme')}` });
      await page.waitForSelector('body[data-layout="contractor"]');
      await page.waitForSelector('[data-testid="contractor-page"]:not([hidden])');
      await waitForText(page, '#contractor-h', 'Acme: your lots and vehicles');
      assert.equal(await page.isHidden('.panel-feed'), true, 'no feed of other vehicles');
      assert.equal(await page.textContent('.brand-sub'), 'Contractor dashboard');

      await page.waitForSelector('[data-testid="contractor-lot"]');
      assert.deepEqual(await rows(page, 'contractor-lot'), [['Alpha Lot', '1', '2', '1 vehicle over']]);
      await page.waitForSelector('[data-testid="contractor-vehicle"][data-plate="AC2"]');
      const vehicles = await rows(page, 'contractor-vehicle');
      assert.deepEqual(vehicles.map((r) => [r[0], r[1]]), [['AC1', 'Alpha Lot'], ['AC2', 'Alpha Lot']]);
      assert.ok(vehicles.every((r) => /^\d+ s$/.test(r[3])), `stays in seconds: ${JSON.stringify(vehicles)}`);

      const money = await page.evaluate(() => new Intl.NumberFormat(undefined, { style: 'currency', currency: 'EUR' }).format(300));
      await waitForText(page, '[data-testid="contractor-penalties"]', `This month so far: 1 violation, penalties ${money}.`);
      await page.waitForSelector(sel.violationRow(own._id));
      assert.equal(await page.locator('[data-testid="violation-row"]').count(), 1, 'only its own violation');
      await waitForText(page, `${sel.violationRow(own._id)} .facts div:nth-child(2) dd`, 'Acme');

      // Its lots only: the other contractor's lot, plates and name are nowhere on the page.
      await page.waitForSelector(sel.lotCard('lot_a'));
      assert.equal(await page.locator(sel.lotCard('lot_z')).count(), 0);
      const text = await page.textContent('main');
      for (const other of ['ZN1', 'ZN2', 'Zen', 'Zulu', 'lot_z']) assert.ok(!text.includes(other), `${other} is not shown`);

      // Its statement: no contractor to choose, its own totals.
      assert.equal(await page.isHidden('#statement-contractor-label'), true);
      await page.click('[data-testid="statement-show"]');
      await waitForText(page, '[data-testid="statement-total"]', money);

      // Another contractor's plate is "not seen" to it.
      await page.fill('[data-testid="vehicle-plate"]', 'ZN1');
      await page.click('[data-testid="vehicle-find"]');
      await page.waitForFunction(() => /not seen/.test(document.querySelector('[data-testid="vehicle-status"]')?.textContent ?? ''));

      // A vehicle arriving shows up without a reload.
      await server.gate('lot_a', 'vehicle_entry', 'AC3', 'main');
      await page.waitForSelector('[data-testid="contractor-vehicle"][data-plate="AC3"]', { timeout: 10_000 });
      assert.deepEqual(browser.pageErrors, []);
    });
  });

  test('an operator keeps the operator layout', { timeout: 30_000 }, async () => {
    await withDiagnostics({ browser, server }, async () => {
      const page = await browser.open(server, { name: 'operator', path: `/?token=${await mintToken('operator', SECRET)}` });
      await page.waitForSelector('body[data-layout="operator"]');
      assert.equal(await page.isHidden('[data-testid="contractor-page"]'), true);
      assert.equal(await page.isVisible('.panel-feed'), true);
      assert.equal(await page.isVisible('#statement-contractor-label'), true);
      await page.waitForSelector(sel.lotCard('lot_z'));
    });
  });
});
