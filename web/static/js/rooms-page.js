// The rooms page: the directory by category with search, creating a room, joining, the
// invitations inbox (live `room.invited`), and topic feeds (feeds.js). A room I am in opens in
// the chat client (/c/<id>/), where room-panel.js shows its members and settings.

import { api } from "./api.js";
import { connection } from "./connection.js";
import { h, replaceChildren, timeElement } from "./dom.js";
import { feedsLoad, roomOptionsSet } from "./feeds.js";
import { dialogOpen, showError } from "./state.js";
import { format, formatNumber, gettext, ngettext, pgettext } from "./i18n.js";

const PAGE = 50;
const searchForm = document.getElementById("room-search-form");
const directory = document.getElementById("room-directory");
const directoryStatus = document.getElementById("room-directory-status");
const directoryError = document.getElementById("room-directory-error");
const moreButton = document.getElementById("room-more");
const categorySelect = document.getElementById("room-category");
const createDialog = document.getElementById("room-create-dialog");
const createForm = document.getElementById("room-create-form");
const createCategory = document.getElementById("room-create-category");
const createError = document.getElementById("room-create-error");
const invitationList = document.getElementById("invitation-list");
const invitationEmpty = document.getElementById("invitation-empty");
const invitationError = document.getElementById("invitation-error");

let rooms = [];
let total = 0;
let categories = [];
const invitations = new Map(); // id -> invitation

function roomUrl(room) {
  return `/c/${encodeURIComponent(room.id)}/`;
}

// -- directory --------------------------------------------------------------------------------

async function directoryLoad({ append = false } = {}) {
  showError(directoryError, "");
  try {
    const page = await api("rooms/", {
      params: {
        q: searchForm.elements.q.value.trim(), category: categorySelect.value,
        limit: PAGE, offset: append ? rooms.length : 0,
      },
    });
    rooms = append ? rooms.concat(page.results) : page.results;
    total = page.total;
    renderDirectory();
    roomOptionsSet(rooms.filter((room) => room.is_member));
  } catch (failure) {
    showError(directoryError, failure.message);
  }
}

const UNCATEGORISED = gettext("Uncategorised");
const PRIVACY_TAGS = {
  closed: pgettext("room privacy", "closed"), secret: pgettext("room privacy", "secret"),
};

function renderDirectory() {
  const groups = new Map();
  for (const room of rooms) {
    const name = room.category ? room.category.name : UNCATEGORISED;
    if (!groups.has(name)) groups.set(name, []);
    groups.get(name).push(room);
  }
  const names = [...groups.keys()].sort((a, b) =>
    a === UNCATEGORISED ? 1 : b === UNCATEGORISED ? -1 : a.localeCompare(b));
  replaceChildren(directory, names.map((name, index) => {
    const headingId = `room-category-${index}`;
    return h("section", { class: "room-group", "aria-labelledby": headingId },
      h("h2", { id: headingId, class: "group-heading" }, name),
      h("ul", { class: "room-list" }, groups.get(name).map(roomItem)));
  }));
  directoryStatus.textContent = total === 0 ? gettext("No rooms match.")
    : format(ngettext("%(count)s room", "%(count)s rooms", total), { count: formatNumber(total) });
  moreButton.hidden = rooms.length >= total;
}

function roomItem(room) {
  const action = room.is_member
    ? h("a", { class: "button", href: roomUrl(room) }, pgettext("room", "Open"))
    : room.privacy === "open"
      ? h("button", { type: "button", class: "primary", onclick: (e) => join(room, e.currentTarget) },
        gettext("Join"))
      : h("span", { class: "muted" }, gettext("Ask a manager to add you"));
  return h("li", { class: "room-item", dataset: { room: room.id } },
    h("div", { class: "room-main" },
      h("h3", { class: "room-name" },
        room.is_member ? h("a", { href: roomUrl(room) }, room.name) : room.name,
        room.is_member ? h("span", { class: "tag tag--member" }, pgettext("tag", "member")) : null,
        room.kind === "auditorium"
          ? h("span", { class: "tag" }, pgettext("tag", "auditorium")) : null,
        room.privacy !== "open"
          ? h("span", { class: "tag" }, PRIVACY_TAGS[room.privacy] || room.privacy) : null),
      room.topic ? h("p", { class: "room-topic" }, room.topic) : null,
      h("p", { class: "muted room-count" },
        format(ngettext("%(count)s member", "%(count)s members", room.member_count),
          { count: formatNumber(room.member_count) }))),
    h("div", { class: "room-action" }, action));
}

async function join(room, button) {
  button.disabled = true;
  try {
    const joined = await api(`rooms/${room.id}/join/`, { method: "POST" });
    Object.assign(room, joined);
    renderDirectory();
    roomOptionsSet(rooms.filter((r) => r.is_member));
    directory.querySelector(`[data-room="${room.id}"] .room-action a`)?.focus();
    directoryStatus.textContent = format(gettext("You joined %(room)s."), { room: room.name });
  } catch (failure) {
    button.disabled = false;
    showError(directoryError, failure.message);
  }
}

searchForm.addEventListener("submit", (event) => {
  event.preventDefault();
  directoryLoad();
});
categorySelect.addEventListener("change", () => directoryLoad());
moreButton.addEventListener("click", () => directoryLoad({ append: true }));

async function categoriesLoad() {
  try {
    ({ results: categories } = await api("categories/"));
  } catch {
    categories = [];
  }
  categorySelect.append(...categories.map((c) => h("option", { value: c.id }, c.name)));
  createCategory.append(...categories.filter((c) => c.can_create)
    .map((c) => h("option", { value: c.id }, c.name)));
}

// -- creating ---------------------------------------------------------------------------------

document.getElementById("room-create-button").addEventListener("click", () => {
  createForm.reset();
  showError(createError, "");
  dialogOpen(createDialog);
});

createForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const field = (name) => createForm.elements[name].value;
  try {
    const room = await api("rooms/", {
      method: "POST",
      body: {
        name: field("name").trim(), topic: field("topic"), description: field("description"),
        category: field("category") ? Number(field("category")) : null,
        privacy: field("privacy"), kind: field("kind"),
      },
    });
    createDialog.close();
    location.assign(roomUrl(room));
  } catch (failure) {
    showError(createError, failure.message);
  }
});

// -- invitations ------------------------------------------------------------------------------

function renderInvitations() {
  replaceChildren(invitationList, [...invitations.values()].map((invitation) =>
    h("li", { class: "invitation", dataset: { invitation: invitation.id } },
      h("p", {},
        h("strong", {}, invitation.room.name),
        " — ", format(gettext("from %(name)s"), { name: invitation.invited_by.display_name }), " ",
        timeElement(invitation.created_at)),
      invitation.room.topic ? h("p", { class: "muted" }, invitation.room.topic) : null,
      h("div", { class: "button-row" },
        h("button", {
          type: "button", class: "primary", onclick: () => answer(invitation, true),
          "aria-label": format(gettext("Accept the invitation to %(room)s"),
            { room: invitation.room.name }),
        }, gettext("Accept")),
        h("button", {
          type: "button", onclick: () => answer(invitation, false),
          "aria-label": format(gettext("Decline the invitation to %(room)s"),
            { room: invitation.room.name }),
        }, gettext("Decline"))))));
  invitationEmpty.hidden = invitations.size > 0;
}

async function answer(invitation, isAccepted) {
  showError(invitationError, "");
  try {
    await api(`invitations/${invitation.id}/${isAccepted ? "accept" : "decline"}/`,
      { method: "POST" });
    invitations.delete(invitation.id);
    renderInvitations();
    if (isAccepted) await directoryLoad();
  } catch (failure) {
    showError(invitationError, failure.message);
  }
}

async function invitationsLoad() {
  try {
    const { results } = await api("invitations/");
    invitations.clear();
    for (const invitation of results) invitations.set(invitation.id, invitation);
    renderInvitations();
  } catch (failure) {
    showError(invitationError, failure.message);
  }
}

// The directory stays live: rooms I am in announce changes of members, names and settings;
// for the others, the directory reloads whenever the page is looked at again.
let reloadTimer = null;
function directoryReloadSoon() {
  clearTimeout(reloadTimer);
  reloadTimer = setTimeout(() => directoryLoad(), 300);
}
for (const type of ["conversation.updated", "conversation.left"]) {
  connection.addEventListener(type, directoryReloadSoon);
}
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) directoryReloadSoon();
});
window.addEventListener("focus", directoryReloadSoon);

connection.addEventListener("room.invited", (event) => {
  const invitation = event.detail.invitation;
  invitations.set(invitation.id, invitation);
  renderInvitations();
});

connection.addEventListener("state", (event) => {
  document.body.dataset.connection = event.detail.state;
});

// Every (re)connect: what may have changed while the socket was down.
connection.addEventListener("hello", () => {
  invitationsLoad();
  feedsLoad();
});

categoriesLoad().then(() => directoryLoad());
connection.connect();

document.body.dataset.ready = "true"; // the page's handlers are in place (tests wait for it)
