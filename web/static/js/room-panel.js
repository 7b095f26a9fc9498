// A room in the conversation view: its description and facts, the member list with presence and
// roles, managers' actions (edit, add, invite, change role, remove), auditorium mode (the
// composer hidden for plain members, with a line saying why), and posting files into any
// conversation (the Attach button or a file dropped on the view).

import { api, apiUpload } from "./api.js";
import { connection } from "./connection.js";
import { current, messagesRedraw, messageStore } from "./conversations.js";
import { personButton } from "./messages.js";
import { h, replaceChildren } from "./dom.js";
import { format, ngettext } from "./i18n.js";
import "./parley-presence.js";
import { dialogOpen, showError, state } from "./state.js";

const ROLE_LABELS = { manager: "Manager", presenter: "Presenter", member: "Member" };
const PRIVACY_LABELS = { open: "Open room", closed: "Closed room", secret: "Secret room" };

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
    room.kind === "auditorium" ? "Auditorium" : null,
    room.category ? `Category: ${room.category.name}` : null,
    room.role ? `You are ${ROLE_LABELS[room.role].toLowerCase()}` : null,
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
      class: "compact", "aria-label": `Role of ${member.display_name}`,
      onchange: (event) => roleChange(member, event.currentTarget.value),
    }, Object.entries(ROLE_LABELS).map(([value, label]) =>
      h("option", { value, selected: value === member.role }, label)))
    : h("span", { class: `role role--${member.role}` }, ROLE_LABELS[member.role] || member.role);
  return h("li", { class: "person", dataset: { username: member.username } },
    h("div", { class: "person-main" }, personButton(member, "full")),
    role,
    isManager() && !isMe
      ? h("button", {
        type: "button", class: "link-button danger", "aria-label": `Remove ${member.display_name}`,
        onclick: () => memberRemove(member),
      }, "Remove")
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
  `${member.display_name} is now ${ROLE_LABELS[role].toLowerCase()}.`);
}

function memberRemove(member) {
  manageCall(api(`rooms/${room.id}/members/${encodeURIComponent(member.username)}/`,
    { method: "DELETE" }), `${member.display_name} was removed.`);
}

addForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const username = addForm.elements.username.value.trim();
  const role = addForm.elements.role.value;
  if (!room || !username) return;
  addForm.elements.username.value = "";
  manageCall(api(`rooms/${room.id}/members/`, { method: "POST", body: { username, role } }),
    `${username} was added as ${ROLE_LABELS[role].toLowerCase()}.`);
});

inviteForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const username = inviteForm.elements.username.value.trim();
  if (!room || !username) return;
  inviteForm.elements.username.value = "";
  manageCall(api(`rooms/${room.id}/invitations/`, { method: "POST", body: { username } }),
    `${username} was invited.`);
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
  attachButton.textContent = "Uploading…";
  try {
    const message = await apiUpload(`conversations/${conversation.id}/files/`, file);
    if (conversation.loaded) messageStore(conversation, message);
  } catch (failure) {
    showError(composerError, `${file.name} was not posted: ${failure.message}`);
  } finally {
    attachButton.disabled = false;
    attachButton.textContent = "Attach";
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
