// The dashboard's pure functions behind the look-ups, in Node without a browser: busiest
// hours from hourly rollups (gaps hold the previous count), plate spelling, statement periods.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { busiestHours, hourRange } from '../js/busiest.js';
import { monthSoFar, periodOf } from '../js/period.js';
import { isPlate, normalizePlate } from '../js/plate.js';

const HOUR = 3_600_000;
/** The server's hours are whole UTC hours: these start at 08:00 UTC on 1 December 2026. */
const BASE = Date.UTC(2026, 11, 1, 8);
/** The hourly bucket `k` hours after BASE. */
const bucket = (k, mean, last, totalSlots = 10) => ({ t: new Date(BASE + k * HOUR).toISOString(), mean, last, totalSlots });
/** The local hour of day that bucket `k` is counted in. */
const localHour = (k) => new Date(BASE + k * HOUR).getHours();

describe('busiest hours', () => {
  test('each hour of the day is the mean of its rates; an hour without a bucket holds the last count', () => {
    // Hour 1 has no bucket: held at 9 of 10. Hour 24 is the same hour of day as hour 0, and in progress.
    const buckets = [bucket(0, 5, 9), bucket(2, 2, 2), bucket(24, 7, 7)];
    const to = BASE + 24 * HOUR + 30 * 60_000;
    const top = busiestHours(buckets, { to, top: 24 });
    const rate = Object.fromEntries(top.map((h) => [h.hour, Math.round(h.rate * 100) / 100]));
    assert.equal(rate[localHour(1)], 0.9);
    assert.equal(rate[localHour(0)], 0.6, 'day 1 at 50 %, day 2 at 70 % (the hour in progress)');
    assert.equal(rate[localHour(2)], 0.2);
    assert.equal(rate[localHour(15)], 0.2, 'held from hour 2 on');
    assert.deepEqual(top.slice(0, 2).map((h) => h.hour), [localHour(1), localHour(0)]);
    assert.equal(top.length, 24);
    assert.equal(busiestHours(buckets, { to }).length, 3, 'three by default');
  });

  test('nothing stored is no busiest hour', () => {
    assert.deepEqual(busiestHours([], { to: Date.now() }), []);
  });

  test('hour labels wrap at midnight', () => {
    assert.equal(hourRange(23), '23:00–00:00');
    assert.equal(hourRange(7), '07:00–08:00');
  });
});

describe('plates and periods', () => {
  test('plates are spelled as the server spells them', () => {
    assert.equal(normalizePlate(' ka-01 ab 1234 '), 'KA01AB1234');
    assert.equal(isPlate('KA01AB1234'), true);
    assert.equal(isPlate('A.B'), false);
    assert.equal(isPlate('X'.repeat(17)), false);
    assert.equal(isPlate(''), false);
  });

  test('a period runs from the first day to the end of the last, or to now', () => {
    const now = new Date(2026, 11, 3, 15, 30);
    assert.deepEqual(monthSoFar(now), { from: '2026-12-01', to: '2026-12-03' });
    const today = periodOf('2026-12-01', '2026-12-03', now);
    assert.equal(today.from, new Date(2026, 11, 1).toISOString());
    assert.equal(today.to, now.toISOString());
    const past = periodOf('2026-11-01', '2026-11-30', now);
    assert.equal(past.to, new Date(2026, 11, 1, 0, 0, 0, -1).toISOString());
    assert.equal(periodOf('', '2026-11-30', now), null);
  });
});
