// The contact list (groups, photos, presence, notes), directory search, and the contact
// dialog that adds a person or changes the relationship I grant them.

import { api } from "./api.js";
import { connection } from "./connection.js";
import { avatar, h, replaceChildren } from "./dom.js";
import { format, gettext, pgettext } from "./i18n.js";
import "./parley-presence.js";
import { dialogOpen, showError, state } from "./state.js";

const groupsElement = document.getElementById("contact-groups");
const emptyElement = document.getElementById("contact-empty");
const directoryForm = document.getElementById("directory-form");
const directoryInput = document.getElementById("directory-q");
const directoryResults = document.getElementById("directory-results");
const dialog = document.getElementById("contact-dialog");
const form = document.getElementById("contact-form");
const personLine = document.getElementById("contact-dialog-person");
const groupInput = document.getElementById("contact-group");
const groupNames = document.getElementById("contact-group-names");
const relationshipSelect = document.getElementById("contact-relationship");
const removeButton = document.getElementById("contact-remove");
const error = document.getElementById("contact-error");

const RELATIONSHIP_LABELS = {
  friends_family: pgettext("relationship", "Friends and family"),
  workgroup: pgettext("relationship", "Workgroup"),
  colleagues: pgettext("relationship", "Colleagues"),
  external: pgettext("relationship", "External"),
  blocked: pgettext("relationship", "Blocked"),
};
// The group of contacts not put in one (the same words in every language as its key here).
const OTHER_CONTACTS = gettext("Other contacts");

let onMessage = () => {};
let editing = null; // {username, isNew}

/** Set what "Message" does (open or start the direct conversation). */
export function setMessageHandler(handler) {
  onMessage = handler;
}

function nameOf(username) {
  const projection = connection.presence.get(username);
  return (projection && projection.display_name) || username;
}

function photoOf(username) {
  const projection = connection.presence.get(username);
  return projection ? projection.photo : null;
}

/** Replace the contact list with hello's (on every connect). */
export function contactsLoad(contacts) {
  state.contacts = new Map(contacts.map((c) => [c.username, c]));
  render();
}

export function render() {
  const groups = new Map();
  const sorted = [...state.contacts.values()].sort((a, b) =>
    nameOf(a.username).localeCompare(nameOf(b.username)));
  for (const contact of sorted) {
    const group = contact.group || OTHER_CONTACTS;
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push(contact);
  }
  const names = [...groups.keys()].sort((a, b) =>
    a === OTHER_CONTACTS ? 1 : b === OTHER_CONTACTS ? -1 : a.localeCompare(b));
  replaceChildren(groupsElement, names.map((group) => {
    const headingId = `contact-group-${group.replace(/\W+/g, "-")}`;
    return h("section", { class: "contact-group", "aria-labelledby": headingId },
      h("h3", { id: headingId }, group),
      h("ul", { class: "people-list" }, groups.get(group).map(contactItem)));
  }));
  emptyElement.hidden = state.contacts.size > 0;
  replaceChildren(groupNames, names.filter((n) => n !== OTHER_CONTACTS)
    .map((n) => h("option", { value: n })));
}

function contactItem(contact) {
  const name = nameOf(contact.username);
  return h("li", { class: "person", dataset: { username: contact.username } },
    h("button", {
      type: "button", class: "avatar-button", dataset: { card: contact.username },
      "aria-label": format(gettext("%(name)s: contact card"), { name }),
    }, avatar({ name, photo: photoOf(contact.username) })),
    h("button", {
      type: "button", class: "person-open", title: format(gettext("Message %(name)s"), { name }),
      onclick: () => onMessage(contact.username),
    },
    h("parley-presence", { user: contact.username, name })),
    h("button", {
      type: "button", class: "person-edit icon-button",
      "aria-label": format(gettext("Edit contact %(name)s"), { name }),
      title: format(gettext("%(relationship)s: edit"),
        { relationship: RELATIONSHIP_LABELS[contact.relationship] || contact.relationship }),
      onclick: () => contactDialogOpen(contact.username),
    }, "⋯"));
}

// A photo or name can arrive after the list was drawn: redraw when a contact's changes.
connection.addEventListener("presence", (event) => {
  const contact = state.contacts.get(event.detail.user);
  if (!contact) return;
  const before = contact.presence || {};
  contact.presence = event.detail;
  if (before.display_name !== event.detail.display_name || before.photo !== event.detail.photo) {
    render();
  }
});

/** Open the dialog for a contact or a person to add. */
export function contactDialogOpen(username, { isExternal = false } = {}) {
  const existing = state.contacts.get(username);
  editing = { username, isNew: !existing };
  showError(error, "");
  personLine.textContent = existing ? `${nameOf(username)} (${username})`
    : format(gettext("Add %(name)s (%(username)s) to your contacts"),
      { name: nameOf(username), username });
  groupInput.value = existing ? existing.group : "";
  relationshipSelect.value = existing ? existing.relationship
    : (isExternal ? "external" : "colleagues");
  removeButton.hidden = !existing;
  dialogOpen(dialog);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!editing) return;
  const body = { group: groupInput.value.trim(), relationship: relationshipSelect.value };
  try {
    const saved = editing.isNew
      ? await api("contacts/", { method: "POST", body: { username: editing.username, ...body } })
      : await api(`contacts/${encodeURIComponent(editing.username)}/`, { method: "PATCH", body });
    state.contacts.set(saved.username, saved);
    connection.presenceStore(saved.presence);
    connection.watch(saved.username);
    render();
    dialog.close();
    markDirectoryContacts();
  } catch (failure) {
    showError(error, failure.message);
  }
});

removeButton.addEventListener("click", async () => {
  if (!editing) return;
  try {
    await api(`contacts/${encodeURIComponent(editing.username)}/`, { method: "DELETE" });
    state.contacts.delete(editing.username);
    render();
    dialog.close();
    markDirectoryContacts();
  } catch (failure) {
    showError(error, failure.message);
  }
});

function directoryItem(person) {
  const isContact = state.contacts.has(person.username);
  const isMe = person.username === state.me;
  return h("li", { class: "person", dataset: { username: person.username } },
    h("button", {
      type: "button", class: "avatar-button", dataset: { card: person.username },
      "aria-label": format(gettext("%(name)s: contact card"), { name: person.display_name }),
    }, avatar({ name: person.display_name, photo: person.presence && person.presence.photo })),
    h("div", { class: "person-main" },
      h("parley-presence", { user: person.username, name: person.display_name }),
      h("span", { class: "muted person-detail" },
        [person.title, person.department].filter(Boolean).join(", "))),
    isMe ? null : h("div", { class: "person-actions" },
      h("button", { type: "button", onclick: () => onMessage(person.username) },
        pgettext("verb", "Message")),
      h("button", {
        type: "button", class: "add-contact",
        onclick: () => contactDialogOpen(person.username, { isExternal: person.is_external }),
      }, isContact ? gettext("Edit contact") : gettext("Add contact"))));
}

function markDirectoryContacts() {
  for (const button of directoryResults.querySelectorAll(".add-contact")) {
    const username = button.closest("[data-username]").dataset.username;
    button.textContent = state.contacts.has(username) ? gettext("Edit contact")
      : gettext("Add contact");
  }
}

directoryForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const query = directoryInput.value.trim();
  if (!query) {
    replaceChildren(directoryResults);
    return;
  }
  replaceChildren(directoryResults, h("li", { class: "muted" }, gettext("Searching…")));
  try {
    const { results } = await api("users/", { params: { q: query } });
    for (const person of results) {
      if (person.presence) connection.presenceStore(person.presence);
    }
    replaceChildren(directoryResults, results.length ? results.map(directoryItem)
      : h("li", { class: "muted" }, format(gettext("Nobody matches “%(query)s”."), { query })));
  } catch (failure) {
    replaceChildren(directoryResults, h("li", { class: "error", role: "alert" },
      format(gettext("The search failed: %(reason)s"), { reason: failure.message })));
  }
});

/** Usernames matching a query, for suggestions. */
export async function directorySuggest(query) {
  if (!query) return [];
  const { results } = await api("users/", { params: { q: query } });
  return results;
}
