// The page recovers by itself after the server restarts: SIGTERM (a graceful stop ends every
// stream), then the server starts again on the same port and database. The connection status
// leaves 'connected' while the server is down and comes back to 'connected'; an update sent
// after the restart (one before the page has reconnected, one after) reaches the screen.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { Server, browserSkip, launchBrowser, sel, waitForConnection, waitForText, withDiagnostics } from './helpers.js';

const LOT = 'lot_restart';

describe('server restart', { skip: browserSkip }, () => {
  let server;
  let browser;

  before(async () => {
    server = await Server.start();
    await server.putLot(LOT, 100, 'Restart Lot');
    await server.setOccupied(LOT, 20);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.dispose();
  });

  test('the page reconnects and shows updates after a restart', { timeout: 45_000 }, async (t) => {
    await withDiagnostics({ browser, server }, async () => {
      const page = await browser.open(server);
      await waitForText(page, sel.lotOccupied(LOT), '20 / 100');

      // Record every connection state the page shows, with when.
      await page.evaluate((selector) => {
        const el = document.querySelector(selector);
        window.__notReloaded = true;
        window.__states = [{ state: el.dataset.state, at: Date.now() }];
        new MutationObserver(() => {
          const state = el.dataset.state;
          if (state !== window.__states.at(-1).state) window.__states.push({ state, at: Date.now() });
        }).observe(el, { attributes: true, attributeFilter: ['data-state'] });
      }, sel.status);
      const port = server.port;

      const stopAt = Date.now();
      await server.stop();
      const stoppedAt = Date.now();
      await page.waitForFunction(() => window.__states.some((s) => s.state !== 'connected'), null, { timeout: 10_000 });

      await server.start();
      assert.equal(server.port, port, 'restarted on the same port');
      const restartedAt = Date.now();
      // Sent before the page has reconnected (its first retry waits about 2 s): it must reach
      // the screen through the resumed stream.
      await server.setOccupied(LOT, 33);

      await waitForConnection(page, 'connected', 20_000);
      const reconnectedAt = Date.now();
      await waitForText(page, sel.lotOccupied(LOT), '33 / 100', 5000);

      // Sent while the page is connected again: it arrives live.
      await server.setOccupied(LOT, 44);
      await waitForText(page, sel.lotOccupied(LOT), '44 / 100', 2000);

      const states = await page.evaluate(() => window.__states);
      const names = states.map((s) => s.state);
      const down = names.findIndex((s) => s !== 'connected');
      assert.ok(down > 0, `the status left 'connected': ${names.join(' -> ')}`);
      assert.equal(names.at(-1), 'connected', `the status came back to 'connected': ${names.join(' -> ')}`);
      assert.ok(names.slice(down).includes('reconnecting') || names.slice(down).includes('connecting'), `it said it was reconnecting: ${names.join(' -> ')}`);
      assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the page was not reloaded');
      // docs/protocol.md, "Ids, resume and snapshots": a client resuming after a restart with an id inside the retained history gets
      // exactly what it missed, so the dashboard keeps its state (no `reset`, no new snapshot).
      assert.equal(await page.getAttribute('body', 'data-last-sync'), 'start', 'the page resumed its stream rather than reloading its snapshot');
      t.diagnostic(
        `states: ${names.join(' -> ')}; SIGTERM to exit ${stoppedAt - stopAt} ms; restart to 'connected' ${reconnectedAt - restartedAt} ms; ` +
          `data-last-sync=${await page.getAttribute('body', 'data-last-sync')}`,
      );
      assert.deepEqual(browser.pageErrors, [], 'no uncaught errors in the page');
    });
  });
});
