// Access (docs/protocol.md, "Access"): a 401 anywhere stops everything and shows "Sign-in
// required" instead of retrying, since retrying cannot help until the operator opens a link
// with a fresh token; a 403 on reading says the token's role may not see the dashboard.

import { TOKEN_COOKIE } from './api.js';

function hasTokenCookie() {
  try {
    return document.cookie.split(/;\s*/).some((c) => c.startsWith(`${TOKEN_COOKIE}=`));
  } catch {
    return false;
  }
}

/** @param {{api, view, session, stream}} ctx see app.js */
export function createAccess(ctx) {
  const { api, session } = ctx;

  /**
   * 401: no token or a refused one; 403 on reading: the token's role may not see the dashboard.
   * Either way retrying by itself cannot help: stop the stream and every timer and say what to
   * do. "Try again" (after opening a fresh link in another tab, say) starts over.
   */
  function denied(status) {
    const kind = status === 401 ? 'signin' : 'forbidden';
    clearTimeout(session.retryTimer);
    ctx.stream.stop();
    session.snapshotFailures = 0;
    session.accessProblem = kind;
    ctx.view.showBanner('');
    ctx.view.setAccess(kind, { hadToken: session.openedWithToken || hasTokenCookie() });
    ctx.view.setConnection({ state: kind === 'signin' ? 'unauthorized' : 'forbidden', info: null, syncing: false });
  }

  function restored() {
    if (!session.accessProblem) return;
    session.accessProblem = null;
    ctx.view.setAccess(null);
  }

  /** Whether a dropped stream was refused for its credentials (see stream.js, onStateChange). */
  async function probe() {
    if (session.probing || session.accessProblem) return;
    session.probing = true;
    const probed = session.client;
    try {
      await api.lots();
    } catch (err) {
      if ((err?.status === 401 || err?.status === 403) && session.client === probed) denied(err.status);
    } finally {
      session.probing = false;
    }
  }

  return { denied, restored, probe };
}
