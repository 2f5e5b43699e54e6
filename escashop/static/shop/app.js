/**
 * The shop page: log in, list the transactions this user may see (REST), keep them live
 * (websocket), and offer the actions the user's roles allow. See docs/shop-ui.md.
 */

import { PaymentsSocket, State } from "../realtime/payments-socket.js";
import { setupCreateDialog, setupPayDialog, setupPaymentsDialog, listResults } from "./actions.js";
import { ApiClient } from "./api.js";
import { debounce, focusMessage, isolate } from "./forms.js";
import { formatMoney, isZero } from "./money.js";
import { STATUS_LABELS, TransactionsTable } from "./table.js";

const $ = (id) => document.getElementById(id);

const STATE_LABELS = {
  [State.IDLE]: "Not connected",
  [State.CONNECTING]: "Connecting…",
  [State.CONNECTED]: "Live",
  [State.RECONNECTING]: "Reconnecting…",
  [State.OFFLINE]: "Offline",
};

const shop = {
  me: null,
  roles: new Set(),
  socket: null,
  nextPage: null,
  loading: 0, // the sequence number of the list request in flight (0: none)
  loadSeq: 0,
  buffered: [], // events that arrived while a list request was in flight
  everConnected: false,
  listFailed: false, // the last list request failed: fetch it again once live
  listRetry: null, // and on a timer meanwhile (the socket may never have dropped)
};

/** After a failed list request, how soon it is made again while the socket stays up. */
const LIST_RETRY_MS = 5000;

const api = new ApiClient({
  onTokenRefreshed: (access) => shop.socket?.reauthenticate(access),
  onSessionEnded: (message) => showLogin(message),
});

const can = {
  pay: () => shop.roles.has("cashier") || shop.roles.has("admin"),
  create: () => shop.roles.has("sales") || shop.roles.has("admin"),
  void: () => shop.roles.has("admin"),
};

const table = new TransactionsTable({
  tbody: $("transactions").tBodies[0],
  emptyMessage: $("table-empty"),
  actionsFor: (row) => [
    ...(can.pay() && !isZero(row.balance_amount) ? [{ action: "pay", label: "Record payment" }] : []),
    { action: "payments", label: "Payments" },
  ],
});

function announce(message) {
  const el = $("announcer");
  el.textContent = "";
  setTimeout(() => {
    el.textContent = message;
  }, 50);
}

/** Others' changes, heard within a second and a burst at a time (the latest per transaction):
 * fifteen payments in a quarter of a second, or a catch-up after a reconnect, were fifteen
 * announcements in a row. */
const LIVE_ANNOUNCE_MS = 1000;
const liveNews = { pending: new Map(), timer: null };

function announceLive(key, message) {
  liveNews.pending.delete(key); // re-inserted: the latest goes last
  liveNews.pending.set(key, message);
  liveNews.timer ??= setTimeout(() => {
    const messages = [...liveNews.pending.values()];
    liveNews.pending.clear();
    liveNews.timer = null;
    if (!shop.me) return; // logged out meanwhile
    announce(
      messages.length <= 3
        ? messages.join(" ")
        : `${messages.length} transactions changed. The latest: ${messages.at(-1)}`,
    );
  }, LIVE_ANNOUNCE_MS);
}

/** Payments and voids made from this page, announced by their dialogs, not again by the
 * event they bring: transactions with a request in flight, and the settlements paid or
 * voided ("<id>:false", "<id>:true", as the event's settlement.voided says). */
const ownChanges = { transactions: new Map(), settlements: new Set() };
const trackOwn = {
  start: (transactionId) =>
    ownChanges.transactions.set(transactionId, (ownChanges.transactions.get(transactionId) ?? 0) + 1),
  end: (transactionId, settlementId, { voided = false } = {}) => {
    if (settlementId !== undefined && settlementId !== null) {
      ownChanges.settlements.add(`${settlementId}:${voided}`);
    }
    const left = (ownChanges.transactions.get(transactionId) ?? 1) - 1;
    if (left > 0) ownChanges.transactions.set(transactionId, left);
    else ownChanges.transactions.delete(transactionId);
  },
};

function isOwnChange(data) {
  const settlement = data.settlement;
  if (settlement && ownChanges.settlements.has(`${settlement.id}:${Boolean(settlement.voided)}`)) {
    return true;
  }
  // In flight: the event may come before the answer naming the settlement. Only this
  // user's own (by name: the frame carries no user id) can be that request's.
  return (
    ownChanges.transactions.has(data.transactionId) && data.updatedBy === shop.me?.display_name
  );
}

const openPay = setupPayDialog({ api, table, announce, trackOwn });
const openCreate = setupCreateDialog({ api, table, announce });
const openPayments = setupPaymentsDialog({ api, table, announce, canVoid: can.void, trackOwn });

// --- Login / logout --------------------------------------------------------------------

function showLogin(message = "") {
  shop.socket?.stop();
  shop.socket = null;
  shop.me = null;
  shop.roles = new Set();
  shop.loadSeq += 1; // a list request still in flight must not draw for the next user
  shop.buffered = [];
  shop.listFailed = false;
  clearTimeout(shop.listRetry);
  liveNews.pending.clear();
  ownChanges.transactions.clear();
  ownChanges.settlements.clear();
  table.replaceAll([]);
  for (const dialog of document.querySelectorAll("dialog[open]")) dialog.close();
  $("shop-view").hidden = true;
  $("login-view").hidden = false;
  $("whoami").hidden = true;
  $("logout").hidden = true;
  renderConnection(State.IDLE, {});
  const error = $("login-error");
  error.textContent = message;
  error.hidden = !message;
  $("login-username").focus();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $("login-error");
  error.hidden = true;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await api.login(form.elements.username.value.trim(), form.elements.password.value);
    form.reset();
    await enterShop();
  } catch (err) {
    error.textContent =
      err.status === 401
        ? "Wrong username or password."
        : err.status === 400
          ? "Enter your username and password."
        : err.status === 429
          ? `Too many attempts; try again in ${err.retryAfter ?? "a few"} seconds.`
          : err.message;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
  // The button was disabled while the request ran, which dropped focus to the page's top.
  if (!error.hidden) focusMessage(error);
});

$("logout").addEventListener("click", () => {
  api.logout();
  showLogin();
});

async function enterShop() {
  let me;
  try {
    me = await api.request("GET", "/auth/me/");
  } catch (err) {
    // A refused refresh token already ended the session (and said so on the login form).
    if (api.session) showLogin(err.message);
    return;
  }
  shop.me = me;
  shop.roles = new Set(me.roles ?? []);
  const name = me.display_name || me.name || me.full_name || me.username;
  $("whoami").textContent = `${isolate(name)} · ${[...shop.roles].join(", ") || "no role"}`;
  $("whoami").hidden = false;
  $("logout").hidden = false;
  $("login-view").hidden = true;
  $("shop-view").hidden = false;
  $("new-transaction").hidden = !can.create();
  table.redrawAll();
  shop.everConnected = false;
  startSocket();
  await loadTransactions();
  $("main").focus();
}

// --- The list (REST) ---------------------------------------------------------------------

function listQuery() {
  return { payment_status: table.filter.status, search: table.filter.search };
}

/** Fetch page 1 (or the next page) for the current filter; live events wait meanwhile. */
async function loadTransactions({ more = false } = {}) {
  // Nothing more to load, or a list request in flight (which a new page 2 would cancel).
  if (more && (!shop.nextPage || shop.loading)) return;
  if (!more) {
    // Page 2 of the old list is not page 2 of the new one: no "Load more" until it is in.
    shop.nextPage = null;
    $("load-more").hidden = true;
  }
  const seq = ++shop.loadSeq;
  shop.loading = seq;
  $("transactions").setAttribute("aria-busy", "true");
  $("table-error").hidden = true;
  try {
    const body = more
      ? await api.request("GET", shop.nextPage)
      : await api.request("GET", "/transactions/", { query: listQuery() });
    if (seq !== shop.loadSeq) return; // a newer request (e.g. a new search) superseded it
    shop.listFailed = false;
    clearTimeout(shop.listRetry);
    const results = listResults(body);
    const firstNew = more ? results.find((txn) => !table.has(txn.id)) : null;
    const fromLoadMore = more && document.activeElement === $("load-more");
    if (more) table.append(results);
    else table.replaceAll(results);
    shop.nextPage = Array.isArray(body) ? null : (body?.next ?? null);
    $("load-more").hidden = !shop.nextPage;
    // "Load more" hides itself on the last page: a keyboard user goes on from the first
    // new row rather than from the top of the page.
    if (fromLoadMore && firstNew && $("load-more").hidden) table.focusRow(firstNew.id, "payments");
  } catch (err) {
    if (seq !== shop.loadSeq) return;
    // The rows on screen may not be the filter's (it changed while the server was away):
    // the list is fetched again once the socket is live again, and, as the socket may
    // have stayed up (the database was the one away), every few seconds meanwhile.
    shop.listFailed = !more;
    if (shop.listFailed) {
      clearTimeout(shop.listRetry);
      shop.listRetry = setTimeout(() => shop.listFailed && loadTransactions(), LIST_RETRY_MS);
    }
    $("table-error").textContent = `Could not load transactions: ${err.message}`;
    $("table-error").hidden = false;
  } finally {
    if (seq === shop.loadSeq) {
      shop.loading = 0;
      $("transactions").removeAttribute("aria-busy");
      // Events that arrived meanwhile are newer than or as new as the list: apply them now.
      const events = shop.buffered.splice(0);
      for (const frame of events) applyEvent(frame);
    }
  }
}

$("load-more").addEventListener("click", () => loadTransactions({ more: true }));

$("filter-status").addEventListener("change", (e) => {
  table.filter.status = e.target.value;
  loadTransactions();
});
$("filter-search").addEventListener(
  "input",
  debounce((e) => {
    table.filter.search = e.target.value.trim();
    loadTransactions();
  }, 250),
);
$("filters").addEventListener("submit", (e) => e.preventDefault());

$("transactions").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const row = table.get(button.dataset.id);
  if (!row) return;
  if (button.dataset.action === "pay") openPay(row);
  else if (button.dataset.action === "payments") openPayments(row);
});
$("new-transaction").addEventListener("click", () => openCreate());

// --- Live (websocket) ----------------------------------------------------------------------

function startSocket() {
  shop.socket?.stop();
  shop.socket = new PaymentsSocket({
    getToken: (options) => api.accessToken(options),
    onEvent: (frame) => (shop.loading ? shop.buffered.push(frame) : applyEvent(frame)),
    onResync: () => loadTransactions(),
    onStateChange: (state, info) => {
      renderConnection(state, info);
      if (state === State.CONNECTED && (!shop.everConnected || shop.listFailed)) {
        shop.everConnected = true;
        // Close the gap between the first list request and the subscription; or fetch
        // again a list that failed while the server could not be reached.
        loadTransactions();
      }
    },
    onAuthFailed: (code) => {
      if (code === 4403) renderConnection(State.OFFLINE, { text: "No live updates for this user" });
    },
  });
  shop.socket.start();
}

function applyEvent(frame) {
  const { data } = frame;
  if (frame.type === "payment_status_updated") {
    if (table.applyPaymentStatus(data) && !isOwnChange(data)) {
      // A payment, void or correction on a row on screen, made elsewhere (another user, or
      // this one on another screen): screen readers hear it too. This page's own are
      // announced by their dialogs.
      const status = STATUS_LABELS[data.payment_status] ?? data.payment_status;
      announceLive(
        data.transactionId,
        `${data.or_number} is now ${status}: ${formatMoney(data.paid_amount)} of ` +
          `${formatMoney(data.amount)} paid.`,
      );
    }
    return;
  }
  if (frame.type !== "transaction_updated") return;
  if (data.type === "transaction_deleted") {
    table.remove(data.transactionId);
    return;
  }
  const before = table.get(data.transactionId);
  const known = Boolean(before);
  table.upsert(data.transaction, { insert: data.type === "transaction_created" });
  const reassigned =
    known &&
    (before.cashier !== (data.transaction.cashier ?? null) ||
      before.sales_agent !== data.transaction.sales_agent);
  // Whoever could see the transaction before a reassignment hears about it; whether this
  // user still may is the server's call: ask it, and drop the row on a 404. A reassignment
  // of a row not shown may have made it this user's: ask too, and add it if so. A payment
  // on a row not shown (further down the list, or filtered out) leaves the page alone.
  if (reassigned || (!known && data.type === "transaction_updated")) {
    recheck(data.transactionId, { insert: !known });
  }
}

async function recheck(id, { insert }) {
  try {
    const txn = await api.request("GET", `/transactions/${id}/`);
    table.upsert(txn, { insert, highlight: insert });
  } catch (err) {
    if (err.status === 404) table.remove(id);
  }
}

let retryTicker = null;

function renderConnection(state, info) {
  const el = $("connection");
  el.dataset.state = state;
  clearInterval(retryTicker);
  let label = info.text ?? STATE_LABELS[state] ?? state;
  if (!info.text && state === State.OFFLINE && !info.final && navigator.onLine !== false) {
    label = "Cannot reach the server"; // the browser is online: it is the server, or the way to it
  }
  // The indicator is a live region: rewriting the same words at each retry could have
  // them read out again.
  const labelEl = el.querySelector(".connection-label");
  if (labelEl.textContent !== label) labelEl.textContent = label;
  // The countdown to the next attempt ticks every second; it is hidden from screen readers
  // (the indicator is a live region: they hear the state changes, not each second).
  const retry = el.querySelector(".connection-retry");
  retry.textContent = "";
  if (info.text || info.retryInMs === undefined || state === State.CONNECTED) return;
  const retryAt = Date.now() + info.retryInMs;
  const draw = () => {
    retry.textContent = ` (retry in ${Math.max(1, Math.ceil((retryAt - Date.now()) / 1000))} s)`;
  };
  draw();
  retryTicker = setInterval(draw, 1000);
}

// --- Start ----------------------------------------------------------------------------------

if (api.restore()) enterShop();
else showLogin();
