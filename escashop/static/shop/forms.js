/**
 * Form helpers shared by the page's dialogs: read fields, show the server's validation
 * errors next to the field they name (DRF's {"field": ["message"]}), and everything else
 * (non_field_errors, detail, network trouble) at the bottom of the form.
 */

const $ = (id) => document.getElementById(id);

/**
 * Text typed by users (a name, an OR number) set apart from the text around it: a
 * right-to-left override in a customer's name otherwise ran on into the balance after it and
 * showed ₱1,250.00 as 00.052,1₱ (Unicode's first-strong isolate … pop directional isolate).
 */
export function isolate(text) {
  return `\u2068${text ?? ""}\u2069`;
}

/** Hide every error of the form whose element ids start with `prefix-`. */
export function clearErrors(form, prefix) {
  for (const el of form.querySelectorAll(".field-error, .form-error")) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const formError = $(`${prefix}-form-error`);
  if (formError) formError.hidden = true;
}

/**
 * Show an ApiError on a form. Field messages go to `#<prefix>-<field>-error` when the form
 * has that field (and focus moves to the first one); the rest go to `#<prefix>-form-error`.
 */
export function showErrors(form, prefix, error, { fieldMap = {} } = {}) {
  const fieldErrors = error.fieldErrors ?? {};
  const leftovers = [];
  let firstInvalid = null;
  for (const [name, messages] of Object.entries(fieldErrors)) {
    const field = fieldMap[name] ?? name;
    const slot = $(`${prefix}-${field}-error`);
    const input = form.elements.namedItem(field);
    if (slot && input) {
      slot.textContent = messages.join(" ");
      slot.hidden = false;
      if (input instanceof Element) {
        input.setAttribute("aria-invalid", "true");
        firstInvalid ??= input;
      }
    } else {
      const label = name === "non_field_errors" || name === "detail" ? "" : `${name}: `;
      leftovers.push(`${label}${messages.join(" ")}`);
    }
  }
  if (Object.keys(fieldErrors).length === 0) leftovers.push(error.message);
  const formError = $(`${prefix}-form-error`);
  if (leftovers.length && formError) {
    formError.textContent = leftovers.join(" ");
    formError.hidden = false;
  }
  focusMessage(firstInvalid ?? formError);
}

/**
 * Move focus to a field or to a message (made focusable for it): a submit button disabled
 * while its request ran had let focus fall to the page's <body>.
 */
export function focusMessage(el) {
  if (!el) return;
  if (!el.matches("input, select, textarea, button")) el.tabIndex = -1;
  el.focus();
}

/** Close buttons ([data-close]) and a busy flag while a request is in flight. */
export function wireDialog(dialog) {
  for (const button of dialog.querySelectorAll("[data-close]")) {
    button.addEventListener("click", () => dialog.close());
  }
}

export async function whileBusy(form, work) {
  const buttons = form.querySelectorAll("button[type=submit]");
  form.setAttribute("aria-busy", "true");
  for (const b of buttons) b.disabled = true;
  try {
    return await work();
  } finally {
    form.removeAttribute("aria-busy");
    for (const b of buttons) b.disabled = false;
  }
}

/** A random key for Idempotency-Key (randomUUID needs a secure context; fall back). */
export function newIdempotencyKey() {
  if (globalThis.crypto?.randomUUID) {
    try {
      return crypto.randomUUID();
    } catch (err) {
      // not a secure context: fall through
    }
  }
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Debounce a function (search boxes). */
export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
