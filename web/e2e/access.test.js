// A server that checks tokens (`--auth jwt`): without one the page says how to sign in and
// shows no data; with a viewer's token it shows the data and offers no Acknowledge, which the
// role may not do.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  Server,
  browserSkip,
  items,
  launchBrowser,
  mintToken,
  sel,
  waitForAttr,
  waitForConnection,
  waitForText,
  withDiagnostics,
} from './helpers.js';

const SECRET = 'an-e2e-secret-of-enough-length';
const LOT = 'lot_access';

describe('access', { skip: browserSkip }, () => {
  let server;
  let browser;

  before(async () => {
    server = await Server.start({ extraArgs: ['--auth', 'jwt', '--jwt-secret', SECRET] });
    server.token = await mintToken('admin', SECRET);
    await server.putLot(LOT, 10, 'Access Lot');
    await server.setOccupied(LOT, 9);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  test('without a token the page asks to sign in instead of showing data', { timeout: 30_000 }, async () => {
    await withDiagnostics({ browser, server }, async () => {
      const page = await browser.open(server, { waitConnected: false });
      await waitForConnection(page, 'unauthorized');
      await waitForAttr(page, 'body', 'data-access', 'signin');
      assert.equal(await page.isVisible('[data-testid="access-required"]'), true, 'the sign-in note shows');
      assert.match(await page.textContent('#access-text'), /this browser has none/);
      assert.equal(await page.isVisible('#lot-list'), false, 'no lots are shown');
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'access-h', 'focus moves to the note');
      assert.deepEqual(browser.pageErrors, [], 'no uncaught errors in the page');
    });
  });

  test('with a viewer\'s token the data shows, and no action the role may not take is offered', { timeout: 30_000 }, async () => {
    await withDiagnostics({ browser, server }, async () => {
      const [alert] = items(await server.alerts(`?lot=${LOT}&status=active`));
      assert.ok(alert, 'the lot at 90 % has an active alert');
      const viewer = await mintToken('viewer', SECRET);
      const page = await browser.open(server, { path: `/?token=${viewer}` });
      assert.equal(new URL(page.url()).search, '', 'the token left the address bar');
      await waitForAttr(page, sel.alertRow(alert._id), 'data-status', 'active');
      await waitForText(page, sel.lotOccupied(LOT), '9 / 10');
      // GET /api/session says a viewer may not operate: no button that could only be refused.
      assert.equal(await page.locator(`${sel.alertRow(alert._id)} [data-testid="alert-ack"]`).count(), 0);
      assert.equal(await page.getAttribute(sel.status, 'data-state'), 'connected');
      assert.deepEqual(browser.pageErrors, [], 'no uncaught errors in the page');
    });
  });
});
