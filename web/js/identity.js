// Who the token is and what it may do (`GET /api/session`, docs/protocol.md "REST"), as the
// panels need it: whether to offer Acknowledge and Resolve, and the currency of penalties.
// Plain functions over the answer, no DOM.

/**
 * The parts of the answer the page uses. `null` (not known: an older server without the
 * endpoint, or it could not be asked) lets every action show, and the server decides, as
 * before the page could ask.
 */
export function readIdentity(data) {
  if (!data || typeof data !== 'object') return null;
  const permissions = data.permissions && typeof data.permissions === 'object' ? data.permissions : {};
  return {
    role: typeof data.role === 'string' ? data.role : null,
    operate: permissions.operate === true,
    /** For a contractor's token: whose page this is. */
    contractorId: typeof data.contractorId === 'string' && data.contractorId ? data.contractorId : null,
    currency: typeof data.currency === 'string' && /^[A-Z]{3}$/.test(data.currency) ? data.currency : null,
  };
}

/** Whether Acknowledge and Resolve are worth offering: only to roles that may operate. */
export const mayOperate = (identity) => identity == null || identity.operate;

/** The ISO 4217 code penalties are counted in, or null for plain numbers. */
export const currencyOf = (identity) => identity?.currency ?? null;

/** A contractor's token: the page shows that contractor's own layout (view/contractor-page.js). */
export const contractorOf = (identity) => (identity?.role === 'contractor' ? identity.contractorId : null);

/** Whether statements of any contractor may be read (admins and operators). */
export const readsStatements = (identity) => identity == null || identity.role === 'admin' || identity.role === 'operator';
