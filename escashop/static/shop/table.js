/**
 * The transactions table: one <tr> per transaction, updated in place. It knows how to draw a
 * transaction and whether a row matches the filter on screen; it decides nothing about who
 * may see what (the server's lists and events already did).
 */

import { formatMoney, isZero, moneyString, percentPaid, progressPercent } from "./money.js";

/** Longer OR numbers wrap (shop.css .or-long); OR-2026-000002 is 14 characters. */
const LONG_OR_NUMBER = 16;

export const STATUS_LABELS = { unpaid: "Unpaid", partial: "Partial", paid: "Paid" };

/** The fields the table keeps, from a REST representation of a transaction. */
function fromRest(txn) {
  return {
    id: txn.id,
    or_number: txn.or_number,
    customer_name: txn.customer_name ?? "",
    amount: moneyString(txn.amount),
    paid_amount: moneyString(txn.paid_amount),
    balance_amount: moneyString(txn.balance_amount),
    payment_status: txn.payment_status,
    sales_agent: txn.sales_agent ?? null,
    cashier: txn.cashier ?? null,
    updated_at: txn.updated_at ?? "",
  };
}

function cell(className, text) {
  const td = document.createElement("td");
  td.className = className;
  if (text !== undefined) td.textContent = text;
  return td;
}

export class TransactionsTable {
  /**
   * @param {HTMLTableSectionElement} tbody
   * @param {HTMLElement} emptyMessage
   * @param {(row: object) => {action: string, label: string}[]} actionsFor
   */
  constructor({ tbody, emptyMessage, actionsFor }) {
    this.tbody = tbody;
    this.emptyMessage = emptyMessage;
    this.actionsFor = actionsFor;
    this.rows = new Map();
    this.filter = { status: "", search: "" };
  }

  get(id) {
    return this.rows.get(Number(id))?.data ?? null;
  }

  has(id) {
    return this.rows.has(Number(id));
  }

  /** Does a row belong on screen under the current status filter and search? */
  matches(data) {
    const { status, search } = this.filter;
    if (status && data.payment_status !== status) return false;
    if (!search) return true;
    const needle = search.toLowerCase();
    return (
      data.or_number.toLowerCase().includes(needle) ||
      data.customer_name.toLowerCase().includes(needle)
    );
  }

  /** Show exactly these transactions (a fresh REST page 1), in the server's order. */
  replaceAll(transactions) {
    // A refetch (after a reconnect, a resync) must not drop the keyboard to the top of the
    // page: focus goes back to the same button of the same row, or, with that row gone, to
    // the main region.
    const active = document.activeElement;
    const inRows = this.tbody.contains(active);
    const focusedId = inRows ? active.closest("tr")?.dataset.id : null;
    const focusedAction = inRows ? active.dataset.action : null;
    this.rows.clear();
    this.tbody.replaceChildren();
    this.append(transactions);
    if (inRows && !(focusedId && this.focusRow(focusedId, focusedAction))) {
      document.getElementById("main")?.focus();
    }
  }

  /** Add a further REST page below the rows already shown. */
  append(transactions) {
    for (const txn of transactions) {
      if (this.has(txn.id)) continue;
      const data = fromRest(txn);
      const tr = this._draw(document.createElement("tr"), data);
      this.rows.set(data.id, { data, tr });
      this.tbody.append(tr);
    }
    this._updateEmpty();
  }

  /**
   * Put a REST representation on screen: update its row, or insert it at the top when
   * `insert` is set. Returns the previous data (null if the row was not shown).
   */
  upsert(txn, { insert = false, highlight = true } = {}) {
    const data = fromRest(txn);
    const existing = this.rows.get(data.id);
    if (!existing && (!insert || !this.matches(data))) return null;
    if (existing && Date.parse(data.updated_at) < Date.parse(existing.data.updated_at)) {
      // A snapshot read before the change already shown (a GET overtaken by an event).
      return existing.data;
    }
    if (existing && !this.matches(data)) {
      this.remove(data.id);
      return existing.data;
    }
    const tr = existing ? existing.tr : document.createElement("tr");
    this._draw(tr, data);
    this.rows.set(data.id, { data, tr });
    if (!existing) this.tbody.prepend(tr);
    if (highlight) this.flash(tr);
    this._updateEmpty();
    return existing ? existing.data : null;
  }

  /** Apply a `payment_status_updated` frame's data to its row, if shown. */
  applyPaymentStatus(frameData) {
    const existing = this.rows.get(frameData.transactionId);
    if (!existing) return false;
    this.upsert(
      {
        ...existing.data,
        amount: frameData.amount,
        paid_amount: frameData.paid_amount,
        balance_amount: frameData.balance_amount,
        payment_status: frameData.payment_status,
        // Who handles it is left to the transaction_updated frame that always follows, so
        // the page can notice a reassignment there (and ask whether it may still see it).
      },
      { insert: false },
    );
    return true;
  }

  remove(id) {
    const existing = this.rows.get(Number(id));
    if (!existing) return;
    existing.tr.remove();
    this.rows.delete(Number(id));
    this._updateEmpty();
  }

  /** Re-draw the action buttons (e.g. after the user's roles became known). */
  redrawAll() {
    for (const { data, tr } of this.rows.values()) this._draw(tr, data);
  }

  flash(tr) {
    tr.classList.remove("flash");
    void tr.offsetWidth; // restart the animation when a row changes twice in a row
    tr.classList.add("flash");
  }

  /**
   * Focus a row's button for `action` (its "Payments" button, or its first, when that one is
   * gone: a paid row has no "Record payment"). False when the row is not shown.
   */
  focusRow(id, action = "pay") {
    const tr = this.rows.get(Number(id))?.tr;
    const button =
      tr?.querySelector(`button[data-action="${action}"]`) ??
      tr?.querySelector('button[data-action="payments"]') ??
      tr?.querySelector("button");
    button?.focus();
    return Boolean(button);
  }

  _draw(tr, data) {
    // Redrawing replaces the row's buttons: keep the keyboard where it was (a live event on
    // the row in focus would otherwise drop focus to the top of the page).
    const focused = tr.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    this._fill(tr, data);
    if (focused && tr.isConnected) this.focusRow(data.id, focused);
    return tr;
  }

  _fill(tr, data) {
    tr.dataset.id = String(data.id);
    tr.dataset.or = data.or_number;
    tr.dataset.status = data.payment_status;
    const or = cell("c-or");
    const orText = document.createElement("span");
    // One line for an ordinary OR number (OR-2026-000002); one of the 40 characters the API
    // takes wraps instead of widening the table.
    orText.className = data.or_number.length > LONG_OR_NUMBER ? "or or-long" : "or";
    orText.textContent = data.or_number;
    or.append(orText);
    const status = cell("c-status");
    const badge = document.createElement("span");
    badge.className = `badge badge-${data.payment_status}`;
    badge.textContent = STATUS_LABELS[data.payment_status] ?? data.payment_status;
    const percent = progressPercent(data.paid_amount, data.amount);
    const shown = percentPaid(data.paid_amount, data.amount);
    const bar = document.createElement("div");
    bar.className = "progress";
    bar.setAttribute("role", "progressbar");
    bar.setAttribute("aria-valuemin", "0");
    bar.setAttribute("aria-valuemax", "100");
    // Something paid, under 1 %: not "0%", which reads as nothing paid.
    const shownText = shown === 0 && data.payment_status === "partial" ? "<1" : String(shown);
    bar.setAttribute("aria-valuenow", String(shown));
    if (shownText !== String(shown)) bar.setAttribute("aria-valuetext", "less than 1%");
    bar.setAttribute("aria-label", `Paid ${shownText}% of ${data.or_number}`);
    const fill = document.createElement("div");
    fill.className = "progress-fill";
    fill.style.width = `${percent.toFixed(2)}%`;
    bar.append(fill);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.setAttribute("aria-hidden", "true"); // the progress bar announces it
    pct.textContent = `${shownText}%`;
    status.append(badge, pct, bar);
    const actions = cell("c-actions");
    for (const { action, label, title } of this.actionsFor(data)) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = action === "pay" ? "btn btn-small btn-primary" : "btn btn-small";
      button.dataset.action = action;
      button.dataset.id = String(data.id);
      button.textContent = label;
      button.setAttribute("aria-label", title ?? `${label}: ${data.or_number}`);
      actions.append(button);
    }
    tr.replaceChildren(
      or,
      cell("c-customer", data.customer_name),
      cell("num c-amount", formatMoney(data.amount)),
      cell("num c-paid", formatMoney(data.paid_amount)),
      cell(`num c-balance${isZero(data.balance_amount) ? " zero" : ""}`, formatMoney(data.balance_amount)),
      status,
      actions,
    );
    return tr;
  }

  _updateEmpty() {
    this.emptyMessage.hidden = this.rows.size > 0;
  }
}
