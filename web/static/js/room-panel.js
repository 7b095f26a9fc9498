// A room in the conversation view: its description and facts, the member list with presence and
// roles, managers' actions (edit, add, invite, change role, remove), auditorium mode (the
// composer hidden for plain members, with a line saying why), and posting files into any
// conversation (the Attach button or a file dropped on the view).

import { api, apiUpload } from "./api.js";
import { connection } from "./connection.js";
import { current, messagesRedraw, messageStore } from "./conversations.js";
import { personButton } from "./messages.js";
import { h, replaceChildren } from "./dom.js";
import { format, gettext, ngettext, pgettext } from "./i18n.js";
import "./parley-presence.js";
import { dialogOpen, showError, state } from "./state.js";

const ROLE_LABELS = {
  manager: pgettext("room role", "Manager"),
  presenter: pgettext("room role", "Presenter"),
  member: pgettext("room role", "Member"),
};
// "You are ...": the role as it reads inside a sentence.
const ROLE_AS = {
  manager: gettext("You are a manager"),
  presenter: gettext("You are a presenter"),
  member: gettext("You are a member"),
};
const PRIVACY_LABELS = {
  open: gettext("Open room"), closed: gettext("Closed room"), secret: gettext("Secret room"),
};

const view = document.getElementById("conversation-view");
const details = document.getElementById("room-details");
const summary = document.getElementById("room-summary");
const descriptionElement = document.getElementById("room-description");
const factsElement = document.getElementById("room-facts");
const manageElement = document.getElementById("room-manage");
const manageStatus = document.getElementById("room-manage-status");
const manageError = document.getElementById("room-manage-error");
const membersElement = document.getElementById("room-members");
const composer = document.getElementById("composer");
const auditoriumNote = document.getElementById("auditorium-note");
const attachButton = document.getElementById("attach-button");
const fileInput = document.getElementById("file-input");
const dropHint = document.getElementById("drop-hint");
const composerError = document.getElementById("composer-error");
const editDialog = document.getElementById("room-edit-dialog");
const editForm = document.getElementById("room-edit-form");
const editError = document.getElementById("room-edit-error");
const addForm = document.getElementById("room-add-form");
const inviteForm = document.getElementById("room-invite-form");

let room = null; // rooms/{id}/ of the room shown

function isManager() {
  return Boolean(room && room.role === "manager");
}

function composerUpdate() {
  const isAudience = Boolean(room && room.kind === "auditorium"
    && !["manager", "presenter"].includes(room.role));
  composer.hidden = isAudience;
  auditoriumNote.hidden = !isAudience;
  attachButton.hidden = isAudience;
}

async function roomLoad(id) {
  try {
    const data = await api(`rooms/${id}/`);
    if (!current() || current().id !== id) return;
    room = data;
    const conversation = state.conversations.get(id);
    const roleChanged = conversation && conversation.role !== data.role;
    if (conversation) {
      conversation.role = data.role;
      conversation.room_kind = data.kind;
    }
    renderRoom();
    if (roleChanged) messagesRedraw();
    await membersLoad(id);
  } catch (failure) {
    showError(manageError, failure.message);
  }
}

function renderRoom() {
  details.hidden = false;
  summary.textContent = format(ngettext("About this room · %(count)s member",
    "About this room · %(count)s members", room.member_count), { count: room.member_count });
  descriptionElement.textContent = room.description || "";
  descriptionElement.hidden = !room.description;
  factsElement.textContent = [
    PRIVACY_LABELS[room.privacy] || room.privacy,
    room.kind === "auditorium" ? gettext("Auditorium") : null,
    room.category ? format(gettext("Category: %(name)s"), { name: room.category.name }) : null,
    room.role ? ROLE_AS[room.role] || room.role : null,
  ].filter(Boolean).join(" · ");
  manageElement.hidden = !isManager();
  composerUpdate();
}

async function membersLoad(id) {
  const { results } = await api(`rooms/${id}/members/`);
  if (!room || room.id !== id) return;
  for (const member of results) {
    if (member.presence) connection.presenceStore(member.presence);
    connection.watch(member.username);
  }
  replaceChildren(membersElement, results.map(memberItem));
}

function memberItem(member) {
  const isMe = member.username === state.me;
  const role = isManager() && !isMe
    ? h("select", {
      class: "compact",
      "aria-label": format(gettext("Role of %(name)s"), { name: member.display_name }),
      onchange: (event) => roleChange(member, event.currentTarget.value),
    }, Object.entries(ROLE_LABELS).map(([value, label]) =>
      h("option", { value, selected: value === member.role }, label)))
    : h("span", { class: `role role--${member.role}` }, ROLE_LABELS[member.role] || member.role);
  return h("li", { class: "person", dataset: { username: member.username } },
    h("div", { class: "person-main" }, personButton(member, "full")),
    role,
    isManager() && !isMe
      ? h("button", {
        type: "button", class: "link-button danger",
        "aria-label": format(gettext("Remove %(name)s"), { name: member.display_name }),
        onclick: () => memberRemove(member),
      }, gettext("Remove"))
      : null);
}

async function manageCall(promise, done) {
  showError(manageError, "");
  manageStatus.textContent = "";
  try {
    await promise;
    manageStatus.textContent = done;
    await roomLoad(room.id);
  } catch (failure) {
    showError(manageError, failure.message);
  }
}

function roleChange(member, role) {
  manageCall(api(`rooms/${room.id}/members/${encodeURIComponent(member.username)}/`,
    { method: "PATCH", body: { role } }),
  format(gettext("%(name)s is now %(role)s."),
    { name: member.display_name, role: ROLE_LABELS[role].toLowerCase() }));
}

function memberRemove(member) {
  manageCall(api(`rooms/${room.id}/members/${encodeURIComponent(member.username)}/`,
    { method: "DELETE" }), format(gettext("%(name)s was removed."), { name: member.display_name }));
}

addForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const username = addForm.elements.username.value.trim();
  const role = addForm.elements.role.value;
  if (!room || !username) return;
  addForm.elements.username.value = "";
  manageCall(api(`rooms/${room.id}/members/`, { method: "POST", body: { username, role } }),
    format(gettext("%(username)s was added as %(role)s."),
      { username, role: ROLE_LABELS[role].toLowerCase() }));
});

inviteForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const username = inviteForm.elements.username.value.trim();
  if (!room || !username) return;
  inviteForm.elements.username.value = "";
  manageCall(api(`rooms/${room.id}/invitations/`, { method: "POST", body: { username } }),
    format(gettext("%(username)s was invited."), { username }));
});

document.getElementById("room-edit-button").addEventListener("click", () => {
  if (!room) return;
  for (const name of ["name", "topic", "description", "kind", "privacy"]) {
    editForm.elements[name].value = room[name] || "";
  }
  showError(editError, "");
  dialogOpen(editDialog);
});

editForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!room) return;
  const changes = {};
  for (const name of ["name", "topic", "description", "kind", "privacy"]) {
    changes[name] = editForm.elements[name].value;
  }
  try {
    room = await api(`rooms/${room.id}/`, { method: "PATCH", body: changes });
    editDialog.close();
    renderRoom();
  } catch (failure) {
    showError(editError, failure.message);
  }
});

document.addEventListener("parley:conversation-shown", (event) => {
  const conversation = event.detail;
  room = null;
  showError(manageError, "");
  manageStatus.textContent = "";
  attachButton.hidden = false;
  if (conversation.kind !== "room") {
    details.hidden = true;
    composer.hidden = false;
    auditoriumNote.hidden = true;
    return;
  }
  // Until the room's details arrive, the composer follows what hello said.
  room = { id: conversation.id, kind: conversation.room_kind, role: conversation.role,
    member_count: conversation.participant_count };
  composerUpdate();
  roomLoad(conversation.id);
});

document.addEventListener("parley:room-changed", (event) => {
  if (room && room.id === event.detail.id) roomLoad(room.id);
});

// -- files ------------------------------------------------------------------------------------

async function fileSend(file) {
  const conversation = current();
  if (!conversation || !file) return;
  showError(composerError, "");
  attachButton.disabled = true;
  attachButton.textContent = gettext("Uploading…");
  try {
    const message = await apiUpload(`conversations/${conversation.id}/files/`, file);
    if (conversation.loaded) messageStore(conversation, message);
  } catch (failure) {
    showError(composerError, format(gettext("%(file)s was not posted: %(reason)s"),
      { file: file.name, reason: failure.message }));
  } finally {
    attachButton.disabled = false;
    attachButton.textContent = gettext("Attach");
    fileInput.value = "";
  }
}

attachButton.addEventListener("click", () => fileInput.click());
fileInput.addEventListener("change", () => fileSend(fileInput.files[0]));

function canDrop(event) {
  return current() && !attachButton.hidden
    && [...(event.dataTransfer?.types || [])].includes("Files");
}

view.addEventListener("dragover", (event) => {
  if (!canDrop(event)) return;
  event.preventDefault();
  dropHint.hidden = false;
});
view.addEventListener("dragleave", (event) => {
  if (!view.contains(event.relatedTarget)) dropHint.hidden = true;
});
view.addEventListener("drop", (event) => {
  dropHint.hidden = true;
  if (!canDrop(event)) return;
  event.preventDefault();
  fileSend(event.dataTransfer.files[0]);
});
