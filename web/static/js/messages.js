// One message in the conversation view: sender with presence, time, "(edited)", the body as
// light markdown, and for my own messages Edit and Delete (which ask the server; the
// message.updated frame then redraws the message for everyone).

import { connection } from "./connection.js";
import { h, timeElement } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import "./parley-presence.js";
import { showError, state } from "./state.js";

/** "12 KB" for 12345 bytes. */
export function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

function fileLink(file) {
  return h("p", { class: "message-file" },
    h("a", { href: file.download_url, download: file.name }, `⤓ ${file.name}`),
    h("span", { class: "muted" }, ` (${sizeText(file.size)})`));
}

/** Whether I manage the room this message is in (managers remove others' messages). */
function isManagerOf(conversationId) {
  const conversation = state.conversations.get(conversationId);
  return Boolean(conversation && conversation.kind === "room" && conversation.role === "manager");
}

export function messageElement(message) {
  const isMine = message.sender.username === state.me;
  const classes = ["message", isMine ? "message--mine" : "",
    message.deleted ? "message--deleted" : ""];
  const deletedText = message.removed_by
    ? `This message was removed by a manager (${message.removed_by}).`
    : "This message was deleted.";
  const body = message.deleted
    ? h("div", { class: "message-body" }, h("em", {}, deletedText))
    : h("div", { class: "message-body" }, message.body ? renderMarkdown(message.body) : null,
      message.file ? fileLink(message.file) : null);
  const deleteButton = (label) => h("button", {
    type: "button", class: "link-button message-delete", dataset: { label },
    onclick: (event) => deleteClick(event.currentTarget, message),
    onblur: (event) => deleteReset(event.currentTarget),
    onkeydown: (event) => { if (event.key === "Escape") deleteReset(event.currentTarget); },
  }, label);
  let actions = null;
  if (isMine && !message.deleted) {
    actions = h("div", { class: "message-actions" },
      message.file ? null : h("button", {
        type: "button", class: "link-button", onclick: () => editStart(message),
      }, "Edit"),
      deleteButton("Delete"));
  } else if (!message.deleted && isManagerOf(message.conversation)) {
    actions = h("div", { class: "message-actions" }, deleteButton("Remove"));
  }
  const deliveryError = message.delivery_error
    ? h("p", { class: "delivery-error error" }, `Not delivered: ${message.delivery_error}`)
    : null;
  return h("li", {
    class: classes.filter(Boolean).join(" "), id: `message-${message.id}`,
    dataset: { seq: message.seq, id: message.id },
  },
  h("div", { class: "message-meta" },
    h("parley-presence", {
      user: message.sender.username, variant: "name", name: message.sender.display_name,
    }),
    timeElement(message.created_at),
    message.edited_at && !message.deleted ? h("span", { class: "edited" }, "(edited)") : null),
  body,
  deliveryError,
  actions);
}

function editStart(message) {
  const item = document.getElementById(`message-${message.id}`);
  if (!item) return;
  const input = h("textarea", { class: "edit-input", rows: "2", "aria-label": "Edit message" });
  input.value = message.body;
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const cancel = () => {
    const conversation = state.conversations.get(message.conversation);
    const latest = conversation ? conversation.messages.get(message.seq) : message;
    item.replaceWith(messageElement(latest));
    const again = document.getElementById(`message-${message.id}`);
    if (again) again.querySelector(".message-actions button")?.focus();
  };
  const form = h("form", { class: "edit-form" }, input,
    h("div", { class: "edit-actions" },
      h("button", { type: "submit", class: "primary" }, "Save"),
      h("button", { type: "button", onclick: cancel }, "Cancel")), error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await connection.request({ type: "message.edit", id: message.id, body: input.value });
    } catch (failure) {
      showError(error, failure.message);
    }
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.preventDefault();
      cancel();
    } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  item.querySelector(".message-body").replaceWith(form);
  item.querySelector(".message-actions")?.remove();
  input.focus();
}

function deleteClick(button, message) {
  if (button.dataset.confirming !== "true") {
    button.dataset.confirming = "true";
    button.textContent = button.dataset.label === "Remove" ? "Confirm remove" : "Confirm delete";
    button.classList.add("danger");
    return;
  }
  connection.request({ type: "message.delete", id: message.id }).catch((failure) => {
    const item = button.closest(".message");
    if (item) item.append(h("p", { class: "error", role: "alert" }, failure.message));
  });
}

function deleteReset(button) {
  button.dataset.confirming = "false";
  button.textContent = button.dataset.label || "Delete";
  button.classList.remove("danger");
}
