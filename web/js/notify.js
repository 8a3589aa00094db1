// The opt-in alarm for new critical alerts: the header's "Notify me of critical alerts"
// toggle (off by default, remembered in this browser), a short tone made with WebAudio (no
// audio file to fetch or allow in the CSP) and a desktop Notification when the browser grants
// them. Only for alerts that become critical live on the stream: never for those in a
// snapshot, nor for the replay a resumed stream starts with, which were news while the page
// was away and would otherwise sound as a burst on every reconnect.

import { humanize } from './format.js';
import { lotName, withLotName } from './view/names.js';

const STORAGE_KEY = 'parkstream.notifyCritical';
/** A resumed stream's replay arrives at once; this long without an event ends it. */
const REPLAY_QUIET_MS = 500;
const TONE = { frequency: 880, seconds: 0.35, volume: 0.2 };

function remembered() {
  try {
    return localStorage.getItem(STORAGE_KEY) === 'on';
  } catch {
    return false; // storage disabled: off, as by default
  }
}

function remember(on) {
  try {
    localStorage.setItem(STORAGE_KEY, on ? 'on' : 'off');
  } catch {
    // Storage disabled: the choice lasts as long as the page.
  }
}

const notifications = () => (typeof window.Notification === 'function' ? window.Notification : null);

/** The notification's words: the alert's type, its lot by name, the server's message. */
function describe(store, alert) {
  return {
    title: `Critical alert: ${humanize(alert.type)}`,
    body: `${lotName(store, alert.parkingLotId)}: ${withLotName(store, alert.message, alert.parkingLotId)}`,
  };
}

/** @param {object} store see store.js (for the lot's name) */
export function createNotifier(store) {
  const toggle = document.getElementById('notify-toggle');
  let enabled = remembered();
  let audio = null;
  /** The `serverTime` of the stream's `connected`, and until when its replay may still run. */
  let connectedAt = 0;
  let replayUntil = 0;
  toggle.checked = enabled;

  // Browsers start audio only after a gesture on the page: one the first time it is needed.
  function audioContext() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!audio && Context) audio = new Context();
    if (audio?.state === 'suspended') audio.resume().catch(() => {});
    return audio;
  }

  function tone() {
    const ctx = audioContext();
    if (!ctx) return;
    const oscillator = ctx.createOscillator();
    const gain = ctx.createGain();
    const t = ctx.currentTime;
    oscillator.type = 'sine';
    oscillator.frequency.setValueAtTime(TONE.frequency, t);
    // A short ramp in and out: a click-free beep.
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(TONE.volume, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + TONE.seconds);
    oscillator.connect(gain).connect(ctx.destination);
    oscillator.start(t);
    oscillator.stop(t + TONE.seconds + 0.05);
  }

  function show(alert) {
    const N = notifications();
    if (!N || N.permission !== 'granted') return;
    const { title, body } = describe(store, alert);
    try {
      // One per alert: its tag replaces rather than stacks a repeat.
      new N(title, { body, tag: alert._id });
    } catch (err) {
      console.error('parkstream: the notification could not be shown', err);
    }
  }

  toggle.addEventListener('change', () => {
    enabled = toggle.checked;
    remember(enabled);
    if (!enabled) return;
    audioContext(); // inside the click: allowed to start
    const N = notifications();
    if (N && N.permission === 'default') N.requestPermission?.()?.catch?.(() => {});
  });
  // A toggle remembered on: the first click anywhere lets its tone play.
  document.addEventListener('pointerdown', () => enabled && audioContext(), { once: true });

  return {
    /** The stream's `connected` event: a resumed stream replays first. */
    connected(data) {
      const at = Date.parse(data?.serverTime ?? '');
      connectedAt = Number.isNaN(at) ? Date.now() : at;
      replayUntil = data?.resumed ? Date.now() + REPLAY_QUIET_MS : 0;
    },
    /** Any event on the stream: the replay lasts while they keep coming without a pause. */
    heard() {
      const now = Date.now();
      if (now < replayUntil) replayUntil = now + REPLAY_QUIET_MS;
    },
    /**
     * An alert from the stream, as stored, and the copy held before it (none: new). Sounds
     * when it has just become an active critical one (raised so, or a breach escalated to
     * over capacity), unless it is part of a replay: arriving in the replay and raised before
     * this connection.
     */
    alert(item, previous) {
      if (!enabled || item?.severity !== 'critical' || item.status !== 'active') return;
      if (previous?.severity === 'critical') return;
      const raised = Date.parse(item.createdAt ?? '');
      const replayed = Date.now() < replayUntil && !(raised >= connectedAt);
      if (replayed) return;
      try {
        tone();
      } catch (err) {
        console.error('parkstream: the alert tone could not be played', err); // still notify
      }
      show(item);
    },
  };
}
