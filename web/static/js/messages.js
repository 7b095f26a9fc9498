// One message in the conversation view: sender (a button opening their contact card) with
// presence, the time (a link to the message, /c/<id>/m/<seq>/), "(edited)", the body as light
// markdown, a thumbnail for an image file, and for my own messages Edit and Delete (shown on
// hover or focus; they ask the server, and the message.updated frame redraws the message for
// everyone).

import { api } from "./api.js";
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

// The reactions offered in a message's menu (any single emoji is accepted by the server).
export const QUICK_REACTIONS = ["👍", "❤️", "😄", "🎉", "👀", "✅"];

let onReply = () => {};

/** Set what a message's Reply button does (the conversation view starts a reply). */
export function setReplyHandler(handler) {
  onReply = handler;
}

/** Wrap @username in the rendered body; mentions of me are highlighted. */
function mentionsMark(body, mentions) {
  if (!mentions || !mentions.length) return body;
  const names = new Set(mentions);
  const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
  const texts = [];
  while (walker.nextNode()) texts.push(walker.currentNode);
  for (const text of texts) {
    if (text.parentElement.closest("code, a")) continue;
    const parts = text.data.split(/(@[\w.+-]+)/);
    if (parts.length === 1) continue;
    const fragment = document.createDocumentFragment();
    for (const part of parts) {
      const username = part.startsWith("@") ? part.slice(1) : null;
      if (username && names.has(username)) {
        fragment.append(h("span", {
          class: username === state.me ? "mention mention--me" : "mention",
        }, part));
      } else if (part) {
        fragment.append(part);
      }
    }
    text.replaceWith(fragment);
  }
  return body;
}

function replyQuote(message) {
  const quote = message.reply_to;
  if (!quote) return null;
  const text = quote.deleted ? gettext("The original message was deleted.")
    : quote.excerpt === null ? gettext("An earlier message you cannot see.")
      : quote.excerpt;
  const who = quote.sender ? quote.sender.display_name : null;
  return h("a", {
    class: "reply-quote", href: `/c/${message.conversation}/m/${quote.seq}/`,
    "aria-label": who ? format(gettext("In reply to %(name)s: %(text)s"), { name: who, text })
      : format(gettext("In reply to: %(text)s"), { text }),
  },
  who ? h("span", { class: "reply-quote-sender" }, who) : null,
  h("span", { class: "reply-quote-text" }, text));
}

async function reactionToggle(message, emoji, isMine) {
  try {
    if (isMine) {
      await api(`messages/${message.id}/reactions/${encodeURIComponent(emoji)}/`,
        { method: "DELETE" });
    } else {
      await api(`messages/${message.id}/reactions/`, { method: "POST", body: { emoji } });
    }
  } catch (failure) {
    const item = document.getElementById(`message-${message.id}`);
    if (item) item.append(h("p", { class: "error", role: "alert" }, failure.message));
  }
}

function reactionBar(message) {
  const reactions = message.reactions || [];
  if (!reactions.length) return null;
  return h("div", { class: "reactions", role: "group", "aria-label": gettext("Reactions") },
    reactions.map((reaction) => {
      const isMine = reaction.people.includes(state.me);
      return h("button", {
        type: "button", class: "reaction", "aria-pressed": isMine ? "true" : "false",
        title: reaction.people.join(", "),
        "aria-label": format(gettext("%(emoji)s %(count)s: %(people)s"), {
          emoji: reaction.emoji, count: reaction.count, people: reaction.people.join(", "),
        }),
        onclick: () => reactionToggle(message, reaction.emoji, isMine),
      }, `${reaction.emoji} ${reaction.count}`);
    }));
}

function reactionPicker(message, toggle) {
  const mine = new Set((message.reactions || [])
    .filter((r) => r.people.includes(state.me)).map((r) => r.emoji));
  const picker = h("div", { class: "reaction-picker", role: "group",
    "aria-label": gettext("Add a reaction") },
  QUICK_REACTIONS.map((emoji) => h("button", {
    type: "button", class: "reaction-choice",
    "aria-label": format(gettext("React with %(emoji)s"), { emoji }),
    onclick: () => {
      picker.remove();
      toggle.setAttribute("aria-expanded", "false");
      reactionToggle(message, emoji, mine.has(emoji));
    },
    onkeydown: (event) => {
      if (event.key === "Escape") {
        picker.remove();
        toggle.setAttribute("aria-expanded", "false");
        toggle.focus();
      }
    },
  }, emoji)));
  return picker;
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
    : mentionsMark(h("div", { class: "message-body" },
      message.body ? renderMarkdown(message.body) : null,
      message.file ? fileLink(message.file) : null), message.mentions);
  const deleteButton = (label) => h("button", {
    type: "button", class: "link-button message-delete", dataset: { label },
    onclick: (event) => deleteClick(event.currentTarget, message),
    onblur: (event) => deleteReset(event.currentTarget),
    onkeydown: (event) => { if (event.key === "Escape") deleteReset(event.currentTarget); },
  }, label === "Remove" ? gettext("Remove") : gettext("Delete"));
  let actions = null;
  if (!message.deleted) {
    const reactButton = h("button", {
      type: "button", class: "link-button", "aria-expanded": "false",
      onclick: (event) => {
        const toggle = event.currentTarget;
        const open = toggle.parentElement.querySelector(".reaction-picker");
        if (open) {
          open.remove();
          toggle.setAttribute("aria-expanded", "false");
          return;
        }
        const picker = reactionPicker(message, toggle);
        toggle.after(picker);
        toggle.setAttribute("aria-expanded", "true");
        picker.querySelector("button").focus();
      },
    }, gettext("React"));
    actions = h("div", { class: "message-actions" },
      h("button", {
        type: "button", class: "link-button", onclick: () => onReply(message),
      }, gettext("Reply")),
      reactButton,
      isMine && !message.file ? h("button", {
        type: "button", class: "link-button", onclick: () => editStart(message),
      }, gettext("Edit")) : null,
      isMine ? deleteButton("Delete") // i18n-ignore: a key, deleteButton says it in words
        : isManagerOf(message.conversation) ? deleteButton("Remove") : null); // i18n-ignore
  }
  const mentionsMe = Boolean(message.mentions && message.mentions.includes(state.me));
  if (mentionsMe && !message.deleted) classes.push("message--mentions-me");
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
  message.deleted ? null : replyQuote(message),
  body,
  message.deleted ? null : reactionBar(message),
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
