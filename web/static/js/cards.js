// The contact card: click a name anywhere (a message's sender, the people of a conversation,
// a room's members, contacts, directory hits). It shows what the person's privacy projection
// lets me see: photo, name, title, department, presence in words with the note, location and
// their local time, phones, e-mail; and Message / Add or Edit contact.

import { api } from "./api.js";
import { connection } from "./connection.js";
import { avatar, h, replaceChildren } from "./dom.js";
import { format, gettext, locale } from "./i18n.js";
import { presenceLook } from "./presence-labels.js";
import { dialogOpen, state } from "./state.js";

const dialog = document.getElementById("card-dialog");
const body = document.getElementById("card-body");
const titleElement = document.getElementById("card-title");
let actions = { message: null, contact: null };

/** Set what the card's Message and contact buttons do (the client page sets them). */
export function cardActionsSet({ message, contact }) {
  actions = { message, contact };
}

function localTime(timeZone) {
  if (!timeZone) return null;
  try {
    const now = new Intl.DateTimeFormat(locale, {
      hour: "2-digit", minute: "2-digit", weekday: "short", timeZone,
    }).format(new Date());
    return format(gettext("%(time)s local time (%(zone)s)"), { time: now, zone: timeZone });
  } catch {
    return null;
  }
}

function row(label, value) {
  if (!value) return null;
  return [h("dt", {}, label), h("dd", {}, value)];
}

function phone(number) {
  return number ? h("a", { href: `tel:${number.replace(/[^+\d]/g, "")}` }, number) : null;
}

function render(username, projection) {
  const { colour, label } = presenceLook(projection);
  const name = projection.display_name || username;
  titleElement.textContent = name;
  const note = projection.availability !== "offline" ? projection.note : "";
  replaceChildren(body,
    h("div", { class: "card-top" },
      h("span", { class: "card-photo" }, avatar({ name, photo: projection.photo })),
      h("div", {},
        h("p", { class: "card-role" },
          [projection.title, projection.department].filter(Boolean).join(" · ")),
        projection.company ? h("p", { class: "muted card-company" }, projection.company) : null,
        h("p", { class: "card-presence" },
          h("span", { class: `dot dot--${colour}`, "aria-hidden": "true" }),
          h("span", { class: "card-state" }, label),
          note ? h("span", { class: "card-note" }, ` — ${note}`) : null))),
    h("dl", { class: "kv card-facts" },
      row(gettext("Location"), projection.location),
      row(gettext("Local time"), localTime(projection.time_zone)),
      row(gettext("Out of office"), projection.out_of_office_note),
      row(gettext("Work phone"), phone(projection.work_phone)),
      row(gettext("Mobile"), phone(projection.mobile_phone)),
      row(gettext("Home phone"), phone(projection.home_phone)),
      row(gettext("E-mail"),
        projection.email ? h("a", { href: `mailto:${projection.email}` }, projection.email) : null)),
    username === state.me ? null : h("div", { class: "dialog-actions" },
      actions.message ? h("button", {
        type: "button", class: "primary",
        onclick: () => { dialog.close(); actions.message(username); },
      }, gettext("Message")) : null,
      actions.contact ? h("button", {
        type: "button", onclick: () => { dialog.close(); actions.contact(username); },
      }, state.contacts.has(username) ? gettext("Edit contact") : gettext("Add contact")) : null,
      h("button", { type: "button", onclick: () => dialog.close() }, gettext("Close"))),
    username === state.me ? h("div", { class: "dialog-actions" },
      h("button", { type: "button", onclick: () => dialog.close() }, gettext("Close"))) : null);
}

/** Open a person's contact card. */
export async function cardOpen(username) {
  if (!dialog || !username) return;
  render(username, connection.presence.get(username) || { display_name: username });
  if (!dialog.open) dialogOpen(dialog);
  try {
    const projection = await api(`presence/${encodeURIComponent(username)}/`);
    connection.presenceStore(projection);
    if (dialog.open) render(username, projection);
  } catch (failure) {
    body.append(h("p", { class: "error", role: "alert" }, failure.message));
  }
}

// Anything marked data-card="<username>" opens that person's card.
document.addEventListener("click", (event) => {
  const trigger = event.target.closest("[data-card]");
  if (!trigger) return;
  event.preventDefault();
  cardOpen(trigger.dataset.card);
});
