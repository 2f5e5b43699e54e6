/**
 * Money on the page: shown with two decimals and thousands separators, never computed in
 * floating point. REST sends decimal strings ("1500.00"); websocket frames send JSON numbers
 * with two places, which a double holds exactly enough to print back (up to 9,999,999,999.99).
 * The one float use is the width of the progress bar; its percentage text is whole cents.
 */

const DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/** A canonical two-place decimal string ("1500.00") from a REST string or a frame number. */
export function moneyString(value) {
  if (typeof value === "number") {
    return Number.isFinite(value) ? value.toFixed(2) : "";
  }
  const match = DECIMAL.exec(String(value ?? "").trim());
  if (!match) return "";
  const [, sign, whole, fraction = ""] = match;
  return `${sign}${whole.replace(/^0+(?=\d)/, "")}.${fraction.padEnd(2, "0").slice(0, 2)}`;
}

/** "12,500.00" for display (peso sign added by the caller where wanted). */
export function formatMoney(value) {
  const text = moneyString(value);
  if (!text) return "—";
  const [whole, fraction] = text.split(".");
  return `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${fraction}`;
}

/** True when a money value is exactly zero (compares digits, not floats). */
export function isZero(value) {
  return /^-?0+\.00$/.test(moneyString(value));
}

/** Whole percent paid, rounded down, from the digits: 29.00 of 100.00 is 29 (a float
 * division makes it 28.999…). For the text and the progress bar's ARIA value. */
export function percentPaid(paid, amount) {
  const total = cents(amount);
  const part = cents(paid);
  if (total <= 0n || part <= 0n) return 0;
  const whole = (part * 100n) / total;
  return whole > 100n ? 100 : Number(whole);
}

function cents(value) {
  const text = moneyString(value);
  return text ? BigInt(text.replace(".", "")) : 0n;
}

/** Paid over amount in percent, 0 to 100: only for the progress bar's width. Never drawn
 * full while a cent is owed (9,999,999,999.98 of 9,999,999,999.99 was "100.00%"), nor empty
 * once a cent is paid: 0.5 to 99.5 in between. */
export function progressPercent(paid, amount) {
  const total = cents(amount);
  const part = cents(paid);
  if (total <= 0n || part <= 0n) return 0;
  if (part >= total) return 100;
  return Math.min(99.5, Math.max(0.5, (Number(part) / Number(total)) * 100));
}
