// One message in the conversation view: sender (a button opening their contact card) with
// presence, the time (a link to the message, /c/<id>/m/<seq>/), "(edited)", the body as light
// markdown, a thumbnail for an image file, and for my own messages Edit and Delete (shown on
// hover or focus; they ask the server, and the message.updated frame redraws the message for
// everyone).

import { connection } from "./connection.js";
import { h, timeElement } from "./dom.js";
import { format, gettext } from "./i18n.js";
import { renderMarkdown } from "./markdown.js";
import "./parley-presence.js";
import { showError, state } from "./state.js";

/** "12 KB" for 12345 bytes. */
export function sizeText(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

const THUMBNAIL_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

function fileLink(file) {
  const isImage = THUMBNAIL_TYPES.has(file.content_type);
  return h("div", { class: "message-file" },
    isImage ? h("a", { href: file.download_url, class: "thumbnail-link" },
      h("img", {
        class: "thumbnail", src: file.download_url, loading: "lazy",
        alt: format(gettext("Image %(name)s"), { name: file.name }),
      })) : null,
    h("p", { class: "message-file-name" },
      h("a", { href: file.download_url, download: file.name }, `⤓ ${file.name}`),
      h("span", { class: "muted" }, ` (${sizeText(file.size)})`)));
}

/** Whether I manage the room this message is in (managers remove others' messages). */
function isManagerOf(conversationId) {
  const conversation = state.conversations.get(conversationId);
  return Boolean(conversation && conversation.kind === "room" && conversation.role === "manager");
}

/** The address of a message: /c/<conversation>/m/<seq>/. */
export function messagePath(message) {
  return `/c/${message.conversation}/m/${message.seq}/`;
}

/** A button that opens a person's contact card, showing their name and presence. */
export function personButton(person, variant = "name") {
  return h("button", {
    type: "button", class: "person-button", dataset: { card: person.username },
    "aria-label": format(gettext("%(name)s: contact card"), { name: person.display_name }),
  }, h("parley-presence", { user: person.username, variant, name: person.display_name }));
}

export function messageElement(message) {
  const isMine = message.sender.username === state.me;
  const classes = ["message", isMine ? "message--mine" : "",
    message.deleted ? "message--deleted" : ""];
  const deletedText = message.removed_by
    ? format(gettext("This message was removed by a manager (%(name)s)."),
      { name: message.removed_by })
    : gettext("This message was deleted.");
  const body = message.deleted
    ? h("div", { class: "message-body" }, h("em", {}, deletedText))
    : h("div", { class: "message-body" }, message.body ? renderMarkdown(message.body) : null,
      message.file ? fileLink(message.file) : null);
  const deleteButton = (label) => h("button", {
    type: "button", class: "link-button message-delete", dataset: { label },
    onclick: (event) => deleteClick(event.currentTarget, message),
    onblur: (event) => deleteReset(event.currentTarget),
    onkeydown: (event) => { if (event.key === "Escape") deleteReset(event.currentTarget); },
  }, label === "Remove" ? gettext("Remove") : gettext("Delete"));
  let actions = null;
  if (isMine && !message.deleted) {
    actions = h("div", { class: "message-actions" },
      message.file ? null : h("button", {
        type: "button", class: "link-button", onclick: () => editStart(message),
      }, gettext("Edit")),
      deleteButton("Delete"));
  } else if (!message.deleted && isManagerOf(message.conversation)) {
    actions = h("div", { class: "message-actions" }, deleteButton("Remove"));
  }
  const deliveryError = message.delivery_error
    ? h("p", { class: "delivery-error error" },
      format(gettext("Not delivered: %(reason)s"), { reason: message.delivery_error }))
    : null;
  const time = timeElement(message.created_at);
  return h("li", {
    class: classes.filter(Boolean).join(" "), id: `message-${message.id}`,
    dataset: {
      seq: message.seq, id: message.id, sender: message.sender.username,
      at: message.created_at || "",
    },
  },
  h("div", { class: "message-meta" },
    personButton(message.sender),
    h("a", {
      class: "message-link", href: messagePath(message),
      "aria-label": format(gettext("Link to this message, sent %(time)s"),
        { time: time.textContent }),
    }, time),
    message.edited_at && !message.deleted ? h("span", { class: "edited" }, gettext("(edited)"))
      : null),
  body,
  deliveryError,
  actions);
}

/** Edit one of my messages in place (Enter saves, Escape cancels). */
export function editStart(message) {
  const item = document.getElementById(`message-${message.id}`);
  if (!item || item.querySelector(".edit-form")) return;
  const input = h("textarea", {
    class: "edit-input", rows: "2", "aria-label": gettext("Edit message"),
  });
  input.value = message.body;
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const cancel = () => {
    const conversation = state.conversations.get(message.conversation);
    const latest = conversation ? conversation.messages.get(message.seq) : message;
    item.replaceWith(messageElement(latest));
    const again = document.getElementById(`message-${message.id}`);
    if (again) again.querySelector(".message-actions button")?.focus();
    document.dispatchEvent(new CustomEvent("parley:messages-changed"));
  };
  const form = h("form", { class: "edit-form" }, input,
    h("div", { class: "edit-actions" },
      h("button", { type: "submit", class: "primary" }, gettext("Save")),
      h("button", { type: "button", onclick: cancel }, gettext("Cancel"))), error);
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
    button.textContent = button.dataset.label === "Remove" ? gettext("Confirm remove")
      : gettext("Confirm delete");
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
  button.textContent = button.dataset.label === "Remove" ? gettext("Remove") : gettext("Delete");
  button.classList.remove("danger");
}
