// The employee client (the signed-in home page). Modules:
//   connection.js   the page's one /ws/ socket (reconnect, presence cache)
//   parley-presence.js   the <parley-presence> element
//   contacts.js     contact list, directory search, relationships
//   conversations.js     conversation list and view, sending, resync
//   messages.js     one message: markdown body, edit, delete
//   room-panel.js   a room in the conversation view: members, roles, managers, auditorium, files
//   presence-picker.js, history.js, idle.js, notifications.js
// The rooms page (rooms-page.js) and the compliance console (console/*.js) are pages of their
// own; rooms are conversations of kind "room", so this view shows the ones I am in.

import "./parley-presence.js";
import { connection } from "./connection.js";
import { cardActionsSet } from "./cards.js";
import { contactDialogOpen, contactsLoad, setMessageHandler } from "./contacts.js";
import { conversationOpen, conversationWith } from "./conversations.js";
import { gettext } from "./i18n.js";
import "./history.js";
import "./idle.js";
import "./presence-picker.js";
import "./room-panel.js";
import "./barrier-note.js";
import "./distribution-groups.js";

const status = document.getElementById("connection-status");

setMessageHandler(conversationWith);
cardActionsSet({ message: conversationWith, contact: (username) => contactDialogOpen(username) });

connection.addEventListener("hello", (event) => {
  contactsLoad(event.detail.contacts || []);
});

connection.addEventListener("state", (event) => {
  const { state } = event.detail;
  document.body.dataset.connection = state;
  if (state === "open") {
    status.hidden = true;
    status.textContent = "";
  } else if (state === "closed") {
    status.hidden = false;
    status.textContent = gettext("Connection lost. Reconnecting…");
  } else if (state === "signed-out") {
    status.hidden = false;
    status.textContent = gettext("You were signed out. Reload the page to sign in again.");
  }
});

document.addEventListener("parley:open-conversation", (event) => {
  conversationOpen(event.detail.id, { seq: event.detail.seq || null });
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && document.getElementById("client").dataset.view === "conversation"
      && window.matchMedia("(max-width: 720px)").matches && !document.querySelector("dialog[open]")
      && !event.target.closest("form")) {
    document.getElementById("conversation-back").click();
  }
});

connection.connect();
