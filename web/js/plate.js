// Number plates as the server spells them (docs/protocol.md, "Vehicles"): upper case, without
// spaces or dashes, so `ka-01 ab 1234` and `KA01AB1234` are the same vehicle. Pure functions.

/** The normalized plate, or '' when nothing is left. */
export function normalizePlate(raw) {
  return String(raw ?? '')
    .replace(/[\s-]+/g, '')
    .toUpperCase();
}

/** Whether the server will take it as a plate: 1 to 16 letters and digits once normalized. */
export function isPlate(normalized) {
  return /^[\p{L}\p{N}]{1,16}$/u.test(normalized);
}
