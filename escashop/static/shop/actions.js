/**
 * The page's three actions, each in its own <dialog> (focus stays inside, Esc closes):
 * record a payment (cashier, admin), create a transaction (sales, admin), list a
 * transaction's payments and void one (admin). The server checks every rule; the dialogs
 * only collect input and show its answers.
 */

import {
  clearErrors,
  debounce,
  focusMessage,
  isolate,
  newIdempotencyKey,
  showErrors,
  whileBusy,
  wireDialog,
} from "./forms.js";
import { formatMoney } from "./money.js";

const $ = (id) => document.getElementById(id);

const MODE_LABELS = {
  cash: "Cash",
  gcash: "GCash",
  maya: "Maya",
  credit_card: "Credit card",
  bank_transfer: "Bank transfer",
};

/** A 404 on a transaction or payment the page showed: it left this user's view meanwhile. */
const GONE_MESSAGE =
  "This transaction is no longer on your list: another cashier may have taken it, or it " +
  "was removed. Close this dialog to see the list as it is now.";

/** Results of a list endpoint, paginated ({results: [...]}) or not ([...]). */
export function listResults(body) {
  return Array.isArray(body) ? body : (body?.results ?? []);
}

/** The shop's time zone (settings.TIME_ZONE, on the page's body), not the browser's. */
const SHOP_TIME_ZONE = document.body?.dataset.timeZone || undefined;

/** A moment as the shop reads it: "Nov 30, 2026, 3:11 AM" in the shop's time zone. */
export function shopTime(date) {
  try {
    return date.toLocaleString("en-PH", {
      timeZone: SHOP_TIME_ZONE,
      dateStyle: "medium",
      timeStyle: "short",
    });
  } catch (err) {
    return date.toLocaleString(); // a zone this browser does not know
  }
}

export function setupPayDialog({ api, table, announce, trackOwn }) {
  const dialog = $("pay-dialog");
  const form = $("pay-form");
  wireDialog(dialog);
  let current = null;
  let key = null;
  // Per transaction, a payment whose outcome is unknown (network failure, 5xx): its key and
  // figures. Paying that transaction again, even from a reopened dialog, offers the same
  // figures and resends the key, so a payment the server did record is answered with that
  // one instead of being recorded twice.
  const unconfirmed = new Map();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!current) return;
    clearErrors(form, "pay");
    const id = current.id;
    const orNumber = current.or_number; // the dialog may be closed and reopened meanwhile
    const body = {
      amount: form.elements.amount.value.trim(),
      payment_mode: form.elements.payment_mode.value,
      notes: form.elements.notes.value.trim(),
    };
    await whileBusy(form, async () => {
      trackOwn.start(id);
      let settlement;
      try {
        settlement = await api.request("POST", `/transactions/${id}/settlements/`, {
          body,
          headers: { "Idempotency-Key": key },
        });
      } catch (err) {
        trackOwn.end(id);
        if (err.status === 409) {
          // The key of an attempt whose answer was lost, sent again with other figures: that
          // first attempt was recorded. Say so in the shop's words, and show the row as it is.
          // This dialog keeps the key, so submitting it again can never pay twice (the first
          // attempt's figures get that payment back, others this answer); a dialog opened
          // afresh, after checking the payments, records a new one.
          unconfirmed.delete(id);
          const message = $("pay-form-error");
          message.textContent =
            "An earlier attempt at this payment, whose answer was lost, was recorded. " +
            "Check the transaction's payments before recording another.";
          message.hidden = false;
          focusMessage(message);
          api.request("GET", `/transactions/${id}/`).then((txn) => table.upsert(txn), () => {});
          return;
        }
        // A definite answer means nothing was recorded: a corrected retry is a new payment.
        // After a network failure the same key makes the retry safe.
        if (err.status !== 0 && err.status < 500) {
          unconfirmed.delete(id);
          key = newIdempotencyKey();
        } else {
          unconfirmed.set(id, { key, body });
        }
        if (err.status === 404) err.message = GONE_MESSAGE;
        showErrors(form, "pay", err);
        return;
      }
      trackOwn.end(id, settlement?.id);
      unconfirmed.delete(id);
      dialog.close();
      announce(`Payment of ${formatMoney(body.amount)} recorded on ${orNumber}.`);
      // The row's buttons were redrawn (the event may have come first): focus goes back to
      // the row, to "Payments" once nothing is left to pay, not to the top of the page.
      table.focusRow(id);
      // The websocket brings the change too; fetching it also covers a dropped connection.
      try {
        table.upsert(await api.request("GET", `/transactions/${id}/`));
      } catch (err) {
        /* the event will do */
      }
    });
  });

  return function open(row) {
    current = row;
    const pending = unconfirmed.get(row.id);
    key = pending?.key ?? newIdempotencyKey();
    form.reset();
    clearErrors(form, "pay");
    $("pay-summary").textContent =
      `${isolate(row.or_number)} · ${isolate(row.customer_name)} · balance ₱${formatMoney(row.balance_amount)}`;
    // An attempt whose answer was lost is offered again as it was: sent as it is, it gets
    // the payment the server recorded, if it did, rather than a second one.
    form.elements.amount.value = pending?.body.amount ?? row.balance_amount;
    if (pending) {
      form.elements.payment_mode.value = pending.body.payment_mode;
      form.elements.notes.value = pending.body.notes;
    }
    dialog.showModal();
    form.elements.amount.select();
  };
}

export function setupCreateDialog({ api, table, announce }) {
  const dialog = $("create-dialog");
  const form = $("create-form");
  const select = $("create-customer");
  wireDialog(dialog);

  const kind = () => form.elements.customer_kind.value;
  const showKind = () => {
    $("create-existing").hidden = kind() !== "existing";
    $("create-new").hidden = kind() !== "new";
  };
  for (const radio of form.elements.customer_kind) radio.addEventListener("change", showKind);

  async function loadCustomers(q = "", selectId = null) {
    try {
      const customers = listResults(await api.request("GET", "/customers/", { query: { q } }));
      select.replaceChildren(
        ...customers.map(
          (c) => new Option(`${isolate(c.name)} (${isolate(c.contact_number)})`, c.id),
        ),
      );
      if (selectId !== null) select.value = String(selectId);
    } catch (err) {
      showErrors(form, "create", err);
    }
  }
  $("create-customer-search").addEventListener(
    "input",
    debounce((e) => loadCustomers(e.target.value.trim()), 250),
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form, "create");
    const f = form.elements;
    await whileBusy(form, async () => {
      let customerId = select.value;
      if (kind() === "new") {
        try {
          const customer = await api.request("POST", "/customers/", {
            body: { name: f.name.value.trim(), contact_number: f.contact_number.value.trim(), email: f.email.value.trim() },
          });
          customerId = customer.id;
          // Created: switch to it, so a failed transaction below is not retried with a
          // second copy of the same customer.
          f.customer_kind.value = "existing";
          showKind();
          await loadCustomers(customer.name, customer.id);
        } catch (err) {
          showErrors(form, "create", err);
          return;
        }
      }
      if (!customerId) {
        $("create-customer-error").textContent = "Choose a customer.";
        $("create-customer-error").hidden = false;
        return;
      }
      const body = { customer: Number(customerId), amount: f.amount.value.trim(), payment_mode: f.payment_mode.value };
      if (f.or_number.value.trim()) body.or_number = f.or_number.value.trim();
      try {
        const txn = await api.request("POST", "/transactions/", { body });
        table.upsert(txn, { insert: true });
        dialog.close();
        announce(`Transaction ${txn.or_number} created.`);
      } catch (err) {
        showErrors(form, "create", err);
      }
    });
  });

  return async function open() {
    form.reset();
    clearErrors(form, "create");
    showKind();
    dialog.showModal();
    await loadCustomers();
  };
}

export function setupPaymentsDialog({ api, table, announce, canVoid, trackOwn }) {
  const dialog = $("payments-dialog");
  const tbody = dialog.querySelector("tbody");
  const voidForm = $("void-form");
  wireDialog(dialog);
  let current = null;
  let voiding = null;

  async function load() {
    $("payments-error").hidden = true;
    try {
      const settlements = listResults(
        await api.request("GET", `/transactions/${current.id}/settlements/`),
      );
      tbody.replaceChildren(...settlements.map(drawSettlement));
      $("payments-empty").hidden = settlements.length > 0;
    } catch (err) {
      $("payments-error").textContent = err.status === 404 ? GONE_MESSAGE : err.message;
      $("payments-error").hidden = false;
    }
  }

  function drawSettlement(s) {
    const tr = document.createElement("tr");
    tr.dataset.id = String(s.id);
    if (s.voided) tr.className = "voided";
    const paidAt = new Date(s.paid_at);
    const notes = s.voided ? `Voided: ${s.void_reason}` : s.notes || "";
    for (const [text, cls] of [
      [Number.isNaN(paidAt.getTime()) ? "" : shopTime(paidAt), ""],
      [MODE_LABELS[s.payment_mode] ?? s.payment_mode, ""],
      [formatMoney(s.amount), "num"],
      [notes, ""],
    ]) {
      const td = document.createElement("td");
      td.textContent = text;
      td.className = cls;
      tr.append(td);
    }
    const td = document.createElement("td");
    if (canVoid() && !s.voided) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn btn-small btn-danger";
      button.textContent = "Void";
      // Two payments of one amount must not share a name: the time tells them apart.
      const when = Number.isNaN(paidAt.getTime()) ? "" : ` made ${shopTime(paidAt)}`;
      button.setAttribute("aria-label", `Void payment of ${formatMoney(s.amount)}${when}`);
      button.addEventListener("click", () => startVoid(s));
      td.append(button);
    }
    tr.append(td);
    return tr;
  }

  function startVoid(settlement) {
    voiding = settlement;
    voidForm.reset();
    clearErrors(voidForm, "void");
    $("void-title").textContent = `Void payment of ₱${formatMoney(settlement.amount)}`;
    voidForm.hidden = false;
    voidForm.elements.reason.focus();
  }

  $("void-cancel").addEventListener("click", () => {
    voidForm.hidden = true;
    voiding = null;
  });

  voidForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!voiding) return;
    clearErrors(voidForm, "void");
    // Esc and another row's Payments may change `current` and `voiding` while it is sent.
    const txn = current;
    const settlement = voiding;
    await whileBusy(voidForm, async () => {
      trackOwn.start(txn.id);
      try {
        await api.request("POST", `/settlements/${settlement.id}/void/`, {
          body: { reason: voidForm.elements.reason.value.trim() },
        });
      } catch (err) {
        trackOwn.end(txn.id);
        if (err.status === 404) err.message = GONE_MESSAGE;
        showErrors(voidForm, "void", err);
        return;
      }
      trackOwn.end(txn.id, settlement.id, { voided: true });
      announce(`Payment of ${formatMoney(settlement.amount)} voided on ${txn.or_number}.`);
      if (current === txn) {
        // Still this transaction's dialog (not closed and reopened on another meanwhile).
        voidForm.hidden = true;
        voiding = null;
        await load();
      }
      try {
        table.upsert(await api.request("GET", `/transactions/${txn.id}/`));
      } catch (err) {
        /* the event will do */
      }
    });
  });

  return async function open(row) {
    current = row;
    voiding = null;
    voidForm.hidden = true;
    $("payments-summary").textContent =
      `${isolate(row.or_number)} · ${isolate(row.customer_name)} · ` +
      `paid ₱${formatMoney(row.paid_amount)} of ₱${formatMoney(row.amount)}`;
    tbody.replaceChildren();
    dialog.showModal();
    await load();
  };
}
