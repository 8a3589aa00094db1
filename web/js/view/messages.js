// What the page says outside the panels: the banner, the note shown instead of the data when
// the server refuses the token, and announcements for screen readers.

import { $, h, setText } from './dom.js';

/** @param {() => void} retry what "Try again" does */
export function createMessages(retry) {
  const ui = {
    banner: $('#banner'),
    announcer: $('#announcer'),
    accessNote: $('#access-note'),
    accessHeading: $('#access-h'),
    accessText: $('#access-text'),
    accessHint: $('#access-hint'),
    accessRetry: $('#access-retry'),
  };
  let announceTimer = 0;

  function announce(text) {
    // Re-set after a tick so the same message twice is read twice.
    ui.announcer.textContent = '';
    clearTimeout(announceTimer);
    announceTimer = setTimeout(() => {
      ui.announcer.textContent = text;
    }, 50);
  }

  function showBanner(text, tone = 'error') {
    if (!text) {
      ui.banner.hidden = true;
      ui.banner.textContent = '';
      return;
    }
    ui.banner.dataset.tone = tone;
    setText(ui.banner, text);
    ui.banner.hidden = false;
  }

  /**
   * Instead of the dashboard, what to do when the server refuses the token: 'signin' (401),
   * 'forbidden' (403 on reading), or null (access is fine again).
   */
  function setAccess(kind, { hadToken = false } = {}) {
    document.body.dataset.access = kind || '';
    if (!kind) {
      delete document.body.dataset.access;
      ui.accessNote.hidden = true;
      return;
    }
    if (kind === 'signin') {
      setText(ui.accessHeading, 'Sign-in required: open the link the server printed (it carries a token).');
      setText(
        ui.accessText,
        hadToken
          ? 'The server refused the token this browser has: it has expired, or it was made for another server.'
          : 'This server asks for an access token, and this browser has none.',
      );
      ui.accessHint.replaceChildren(
        h('code', {}, 'parkstream serve'),
        ' prints that link when it starts; an administrator can also make one with ',
        h('code', {}, 'parkstream token --role viewer'),
        '.',
      );
    } else {
      setText(ui.accessHeading, 'Not allowed for your role: this token cannot view the dashboard.');
      setText(ui.accessText, 'The server accepted the token, but its role does not include reading lots, alerts and violations.');
      setText(ui.accessHint, 'Ask an administrator for a link with a viewer, operator or admin token.');
    }
    const wasHidden = ui.accessNote.hidden;
    ui.accessNote.hidden = false;
    if (wasHidden && !ui.accessNote.contains(document.activeElement)) ui.accessHeading.focus({ preventScroll: true });
  }

  ui.accessRetry.addEventListener('click', () => retry());

  return { announce, showBanner, setAccess };
}
