// Conversations: the list with unread counts, and the conversation view with history paging,
// live messages, typing, edit/delete, "add person" and resync after a reconnect.
//
// Each conversation the page has opened keeps its messages by seq (a Map), so a message that
// arrives twice (live and again in a sync batch) is drawn once, in seq order. syncedSeq is the
// highest seq up to which the page has everything; a live message beyond syncedSeq + 1 (the
// channel layer is at-most-once) or a reconnect asks the server for `sync` from syncedSeq.

import { api } from "./api.js";
import { connection } from "./connection.js";
import { directorySuggest } from "./contacts.js";
import { h, replaceChildren } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { messageElement } from "./messages.js";
import { notifyMessage } from "./notifications.js";
import "./parley-presence.js";
import { dialogOpen, showError, state } from "./state.js";

const HISTORY_PAGE = 50;
const TYPING_SHOWN_MS = 6000;
const TYPING_SEND_EVERY_MS = 3000;

const client = document.getElementById("client");
const listElement = document.getElementById("conversation-list");
const listEmpty = document.getElementById("conversation-empty");
const view = document.getElementById("conversation-view");
const placeholder = document.getElementById("conversation-placeholder");
const titleElement = document.getElementById("conversation-title");
const peopleElement = document.getElementById("conversation-people");
const scroller = document.getElementById("message-scroller");
const messageList = document.getElementById("message-list");
const pendingList = document.getElementById("pending-list");
const loadEarlierButton = document.getElementById("load-earlier");
const typingElement = document.getElementById("typing-indicator");
const composer = document.getElementById("composer");
const composerText = document.getElementById("composer-text");
const composerError = document.getElementById("composer-error");
const addPersonButton = document.getElementById("add-person-button");
const leaveButton = document.getElementById("leave-button");
const announcer = document.getElementById("message-announcer");
const addPersonDialog = document.getElementById("add-person-dialog");
const addPersonForm = document.getElementById("add-person-form");
const addPersonInput = document.getElementById("add-person-username");
const addPersonSuggestions = document.getElementById("add-person-suggestions");
const addPersonHint = document.getElementById("add-person-hint");
const addPersonError = document.getElementById("add-person-error");

const outbox = new Map(); // client_id -> {conversation, body, element, seq}
let lastTypingSent = 0;

// -- the list -------------------------------------------------------------------------------

export function conversationUpsert(data) {
  let conversation = state.conversations.get(data.id);
  if (!conversation) {
    conversation = {
      id: data.id, messages: new Map(), loaded: false, firstSeq: null, hasMore: false,
      syncedSeq: 0, isSyncing: false, typers: new Map(), unread: 0, last_read_seq: 0,
      last_seq: 0,
    };
    state.conversations.set(data.id, conversation);
  }
  const lastSeq = Math.max(conversation.last_seq || 0, data.last_seq || 0);
  Object.assign(conversation, {
    kind: data.kind, title: data.title, topic: data.topic, participants: data.participants,
    participant_count: data.participant_count, created_at: data.created_at,
    last_message_at: data.last_message_at || conversation.last_message_at,
  });
  conversation.last_seq = lastSeq;
  if ("role" in data) conversation.role = data.role;
  if ("room_kind" in data) conversation.room_kind = data.room_kind;
  if ("posting_closed" in data) conversation.posting_closed = data.posting_closed;
  if ("unread" in data) conversation.unread = data.unread;
  if ("last_read_seq" in data) conversation.last_read_seq = data.last_read_seq;
  for (const person of data.participants || []) {
    if (person.username !== state.me) connection.watch(person.username);
  }
  return conversation;
}

function others(conversation) {
  return (conversation.participants || []).filter((p) => p.username !== state.me);
}

export function conversationTitle(conversation) {
  if (conversation.kind === "room" || conversation.title) return conversation.title || "Room";
  const names = others(conversation).map((p) => p.display_name);
  return names.length ? names.join(", ") : "Just me";
}

export function renderList() {
  const conversations = [...state.conversations.values()].sort((a, b) =>
    (b.last_message_at || b.created_at || "")
      .localeCompare(a.last_message_at || a.created_at || ""));
  replaceChildren(listElement, conversations.map((conversation) => {
    const title = conversationTitle(conversation);
    const direct = conversation.kind === "direct" ? others(conversation)[0] : null;
    const badge = conversation.unread > 0
      ? h("span", { class: "badge", "aria-label": `${conversation.unread} unread` },
        String(conversation.unread))
      : null;
    return h("li", { dataset: { conversation: conversation.id } },
      h("button", {
        type: "button", class: "conversation-item",
        "aria-current": conversation.id === state.currentId ? "true" : null,
        onclick: () => conversationOpen(conversation.id),
      },
      direct
        ? h("parley-presence", { user: direct.username, variant: "dot", name: direct.display_name })
        : h("span", { class: "kind-icon", "aria-hidden": "true" },
          conversation.kind === "room" ? "#" : String(conversation.participant_count || "")),
      h("span", { class: "conversation-name" }, title),
      badge));
  }));
  listEmpty.hidden = state.conversations.size > 0;
  const unread = [...state.conversations.values()].reduce((sum, c) => sum + c.unread, 0);
  document.title = unread ? `(${unread}) Chat · Parley` : "Chat · Parley";
}

// -- the view -------------------------------------------------------------------------------

export function current() {
  return state.conversations.get(state.currentId) || null;
}

/** Show a conversation (loading its recent history the first time). */
export async function conversationOpen(id, { focusComposer = true } = {}) {
  const conversation = state.conversations.get(id);
  if (!conversation) return;
  state.currentId = id;
  client.dataset.view = "conversation";
  view.hidden = false;
  placeholder.hidden = true;
  showError(composerError, "");
  renderHeader(conversation);
  renderMessages(conversation);
  renderTyping(conversation);
  renderList();
  document.dispatchEvent(new CustomEvent("parley:conversation-shown", { detail: conversation }));
  if (!conversation.loaded) await historyLoad(conversation);
  markRead(conversation);
  scrollToEnd();
  if (focusComposer) composerText.focus();
}

/** Draw the shown conversation's messages again (a role change alters their actions). */
export function messagesRedraw() {
  const conversation = current();
  if (conversation) renderMessages(conversation);
}

export function conversationClose() {
  state.currentId = null;
  client.dataset.view = "list";
  view.hidden = true;
  placeholder.hidden = false;
  renderList();
}

document.getElementById("conversation-back").addEventListener("click", conversationClose);

/** Open (or start) the direct conversation with a person. */
export async function conversationWith(username) {
  try {
    const data = await api("conversations/", {
      method: "POST", body: { participants: [username] },
    });
    conversationUpsert(data);
    renderList();
    await conversationOpen(data.id);
  } catch (failure) {
    alertLine(failure.message);
  }
}

function alertLine(text) {
  showError(composerError, text);
  if (view.hidden) window.setTimeout(() => showError(composerError, ""), 5000);
}

function renderHeader(conversation) {
  titleElement.textContent = conversationTitle(conversation);
  const people = others(conversation);
  replaceChildren(peopleElement,
    conversation.kind === "room"
      ? h("span", { class: "muted" }, [conversation.topic,
        `${conversation.participant_count} members`].filter(Boolean).join(" · "))
      : people.map((p) => h("parley-presence", {
        user: p.username, name: p.display_name,
        variant: conversation.kind === "direct" ? "status" : "name",
      })));
  addPersonButton.hidden = conversation.kind === "room";
  leaveButton.hidden = conversation.kind === "direct";
}

leaveButton.addEventListener("click", async () => {
  const conversation = current();
  if (!conversation || conversation.kind === "direct") return;
  try {
    if (conversation.kind === "room") {
      await api(`rooms/${conversation.id}/leave/`, { method: "POST" });
    } else {
      await api(`conversations/${conversation.id}/participants/${encodeURIComponent(state.me)}/`,
        { method: "DELETE" });
    }
    state.conversations.delete(conversation.id);
    conversationClose();
  } catch (failure) {
    alertLine(failure.message);
  }
});

function nearEnd() {
  return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
}

function scrollToEnd() {
  scroller.scrollTop = scroller.scrollHeight;
}

function renderMessages(conversation) {
  const sorted = [...conversation.messages.values()].sort((a, b) => a.seq - b.seq);
  replaceChildren(messageList, sorted.map(messageElement));
  replaceChildren(pendingList, [...outbox.values()]
    .filter((entry) => entry.conversation === conversation.id).map((entry) => entry.element));
  loadEarlierButton.hidden = !conversation.hasMore;
}

export function messageStore(conversation, message) {
  conversation.messages.set(message.seq, message);
  if (conversation.firstSeq === null || message.seq < conversation.firstSeq) {
    conversation.firstSeq = message.seq;
  }
  conversation.last_seq = Math.max(conversation.last_seq, message.seq);
  if (message.client_id && outbox.has(message.client_id)) {
    outbox.get(message.client_id).element.remove();
    outbox.delete(message.client_id);
  }
  while (conversation.messages.has(conversation.syncedSeq + 1)) conversation.syncedSeq += 1;
  if (conversation.id !== state.currentId) return;
  const element = messageElement(message);
  const existing = document.getElementById(`message-${message.id}`);
  if (existing) {
    existing.replaceWith(element);
    return;
  }
  const wasNearEnd = nearEnd();
  const after = [...messageList.children].find((li) => Number(li.dataset.seq) > message.seq);
  messageList.insertBefore(element, after || null);
  if (wasNearEnd && !after) scrollToEnd();
}

async function historyLoad(conversation) {
  const beforeSeq = conversation.last_seq + 1;
  try {
    const page = conversation.last_seq > 0
      ? await api(`conversations/${conversation.id}/messages/`, {
        params: { before_seq: beforeSeq, limit: HISTORY_PAGE },
      })
      : { results: [], has_more: false, last_seq: 0 };
    conversation.loaded = true;
    conversation.hasMore = page.has_more;
    conversation.syncedSeq = Math.max(conversation.syncedSeq, beforeSeq - 1);
    for (const message of page.results) messageStore(conversation, message);
    conversation.last_seq = Math.max(conversation.last_seq, page.last_seq);
    if (conversation.id === state.currentId) renderMessages(conversation);
    if (conversation.last_seq > conversation.syncedSeq) syncRequest(conversation);
  } catch (failure) {
    alertLine(`Could not load the history: ${failure.message}`);
  }
}

loadEarlierButton.addEventListener("click", async () => {
  const conversation = current();
  if (!conversation || conversation.firstSeq === null) return;
  try {
    const page = await api(`conversations/${conversation.id}/messages/`, {
      params: { before_seq: conversation.firstSeq, limit: HISTORY_PAGE },
    });
    const height = scroller.scrollHeight;
    conversation.hasMore = page.has_more;
    for (const message of page.results) {
      conversation.messages.set(message.seq, message);
      conversation.firstSeq = Math.min(conversation.firstSeq, message.seq);
    }
    renderMessages(conversation);
    scroller.scrollTop += scroller.scrollHeight - height; // keep what was on screen in place
    const first = messageList.firstElementChild;
    if (first) first.setAttribute("tabindex", "-1");
  } catch (failure) {
    alertLine(`Could not load earlier messages: ${failure.message}`);
  }
});

function syncRequest(conversation) {
  if (conversation.isSyncing || !connection.isOpen) return;
  conversation.isSyncing = true;
  connection.request({
    type: "sync", conversation: conversation.id, after_seq: conversation.syncedSeq,
  }).catch((failure) => {
    // The batch is handled as a frame (below); a refusal must not leave the gap open. A lost
    // connection needs nothing: the next hello resyncs every conversation shown.
    conversation.isSyncing = false;
    if (failure.code === "rate_limited" || failure.retryAfterMs !== undefined) {
      window.setTimeout(() => syncRequest(conversation), retryDelay(failure));
    }
  });
}

/** How long to wait before retrying a refused frame: the server's hint, with jitter. */
function retryDelay(failure) {
  const base = failure.retryAfterMs !== undefined ? failure.retryAfterMs : 1000;
  return base + Math.random() * Math.max(base / 2, 250); // not every tab at the same instant
}

function markRead(conversation) {
  if (document.hidden || conversation.id !== state.currentId) return;
  if (conversation.last_seq > conversation.last_read_seq || conversation.unread > 0) {
    const frame = { type: "read", conversation: conversation.id, seq: conversation.last_seq };
    if (connection.send(frame)) {
      conversation.last_read_seq = conversation.last_seq;
      conversation.unread = 0;
      renderList();
    }
  }
}

document.addEventListener("visibilitychange", () => {
  const conversation = current();
  if (conversation) markRead(conversation);
});

// -- typing ---------------------------------------------------------------------------------

function renderTyping(conversation) {
  const now = Date.now();
  for (const [username, entry] of conversation.typers) {
    if (entry.until <= now) conversation.typers.delete(username);
  }
  const names = [...conversation.typers.values()].map((entry) => entry.name);
  typingElement.textContent = names.length === 0 ? ""
    : names.length === 1 ? `${names[0]} is typing…` : `${names.join(", ")} are typing…`;
}

composerText.addEventListener("input", () => {
  const conversation = current();
  if (!conversation || !composerText.value) return;
  if (Date.now() - lastTypingSent > TYPING_SEND_EVERY_MS) {
    lastTypingSent = Date.now();
    connection.send({ type: "typing", conversation: conversation.id });
  }
});

// -- sending ----------------------------------------------------------------------------------

function clientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `web-${[...bytes].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function outboxSend(entry) {
  connection.request({
    type: "message.send", conversation: entry.conversation, body: entry.body,
    client_id: entry.clientId,
  }).then((ack) => {
    entry.seq = ack.seq;
    const conversation = state.conversations.get(entry.conversation);
    // The ack came but the broadcast did not (or not yet): the message is stored, fetch it.
    window.setTimeout(() => {
      if (outbox.has(entry.clientId) && conversation) syncRequest(conversation);
    }, 1500);
  }).catch((failure) => {
    if (!failure.code) return; // not connected: sent again after the next hello
    if (failure.retryAfterMs !== undefined) {
      // The server could not store it now (e.g. the database restarts): send it again later
      // with the same client_id, which the server stores once however often it arrives.
      entry.element.querySelector(".message-status").textContent = "Waiting for the server…";
      window.setTimeout(() => {
        if (outbox.has(entry.clientId)) outboxSend(entry);
      }, retryDelay(failure));
      return;
    }
    outbox.delete(entry.clientId);
    entry.element.classList.add("message--failed");
    entry.element.querySelector(".message-status").textContent = `Not sent: ${failure.message}`;
  });
}

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const conversation = current();
  const body = composerText.value;
  if (!conversation || !body.trim()) return;
  const entry = { conversation: conversation.id, body, clientId: clientId(), seq: null };
  entry.element = h("li", { class: "message message--mine message--pending" },
    h("div", { class: "message-body" }, renderMarkdown(body)),
    h("div", { class: "message-status muted" }, "Sending…"));
  outbox.set(entry.clientId, entry);
  pendingList.append(entry.element);
  scrollToEnd();
  composerText.value = "";
  lastTypingSent = 0;
  showError(composerError, "");
  if (connection.isOpen) outboxSend(entry);
});

composerText.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    composer.requestSubmit();
  }
});

// -- add person (a direct conversation escalates to a NEW group) ------------------------------

addPersonButton.addEventListener("click", () => {
  const conversation = current();
  if (!conversation) return;
  addPersonHint.textContent = conversation.kind === "direct"
    ? "This starts a new group conversation with the three of you; the person you add does "
      + "not see this conversation's history."
    : "They join this conversation.";
  addPersonInput.value = "";
  showError(addPersonError, "");
  dialogOpen(addPersonDialog);
});

let suggestTimer = null;
addPersonInput.addEventListener("input", () => {
  clearTimeout(suggestTimer);
  suggestTimer = window.setTimeout(async () => {
    try {
      const people = await directorySuggest(addPersonInput.value.trim());
      replaceChildren(addPersonSuggestions, people.filter((p) => p.username !== state.me)
        .map((p) => h("option", { value: p.username }, p.display_name)));
    } catch {
      // suggestions are a convenience; typing the username still works
    }
  }, 200);
});

addPersonForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const conversation = current();
  const username = addPersonInput.value.trim();
  if (!conversation || !username) return;
  try {
    const data = await api(`conversations/${conversation.id}/participants/`, {
      method: "POST", body: { username },
    });
    conversationUpsert(data);
    addPersonDialog.close();
    renderList();
    if (data.id !== conversation.id) {
      await conversationOpen(data.id);
    } else {
      renderHeader(conversation);
    }
  } catch (failure) {
    showError(addPersonError, failure.message);
  }
});

// -- frames ---------------------------------------------------------------------------------

async function conversationFetch(id) {
  try {
    return conversationUpsert(await api(`conversations/${id}/`));
  } catch {
    return null;
  }
}

connection.addEventListener("hello", (event) => {
  const seen = new Set();
  for (const data of event.detail.conversations || []) {
    seen.add(data.id);
    conversationUpsert(data);
  }
  for (const id of [...state.conversations.keys()]) {
    if (!seen.has(id)) state.conversations.delete(id);
  }
  if (state.currentId !== null && !state.conversations.has(state.currentId)) conversationClose();
  // Everything missed while away: every conversation the page shows resyncs from its seq.
  for (const conversation of state.conversations.values()) {
    conversation.isSyncing = false;
    if (conversation.loaded) syncRequest(conversation);
  }
  for (const entry of outbox.values()) outboxSend(entry);
  renderList();
  // A link to a conversation (/?conversation=12, e.g. from the rooms page) opens it once.
  const wanted = Number(new URLSearchParams(location.search).get("conversation"));
  if (wanted && state.conversations.has(wanted) && state.currentId === null) {
    history.replaceState(null, "", location.pathname);
    conversationOpen(wanted);
    return;
  }
  const conversation = current();
  if (conversation) {
    renderHeader(conversation);
    markRead(conversation);
  }
});

connection.addEventListener("message.new", async (event) => {
  const message = event.detail.message;
  const conversation = state.conversations.get(message.conversation)
    || await conversationFetch(message.conversation);
  if (!conversation) return;
  const isNew = !conversation.messages.has(message.seq) && message.seq > conversation.last_read_seq;
  conversation.last_message_at = message.created_at;
  if (conversation.loaded) {
    const hasGap = message.seq > conversation.syncedSeq + 1;
    messageStore(conversation, message);
    if (hasGap) syncRequest(conversation);
  } else {
    conversation.last_seq = Math.max(conversation.last_seq, message.seq);
  }
  if (message.sender.username !== state.me) {
    conversation.typers.delete(message.sender.username);
    if (conversation.id === state.currentId) renderTyping(conversation);
    if (isNew) {
      if (conversation.id === state.currentId && !document.hidden) {
        markRead(conversation);
        // Screen readers hear live messages without re-reading the whole list.
        announcer.textContent = message.deleted ? ""
          : `${message.sender.display_name}: ${message.body}`;
      } else {
        conversation.unread += 1;
      }
      notifyMessage(conversation, message, conversationTitle(conversation));
    }
  }
  renderList();
});

connection.addEventListener("message.updated", (event) => {
  const message = event.detail.message;
  const conversation = state.conversations.get(message.conversation);
  if (conversation && conversation.loaded) messageStore(conversation, message);
});

connection.addEventListener("sync.batch", (event) => {
  const batch = event.detail;
  const conversation = state.conversations.get(batch.conversation);
  if (!conversation) return;
  for (const message of batch.messages) messageStore(conversation, message);
  conversation.isSyncing = false;
  if (batch.has_more) {
    const last = batch.messages[batch.messages.length - 1];
    conversation.syncedSeq = Math.max(conversation.syncedSeq, last ? last.seq : 0);
    syncRequest(conversation);
  } else {
    conversation.syncedSeq = Math.max(conversation.syncedSeq, batch.last_seq);
    conversation.last_seq = Math.max(conversation.last_seq, batch.last_seq);
  }
  renderList();
  markRead(conversation);
});

connection.addEventListener("conversation.updated", (event) => {
  const conversation = conversationUpsert(event.detail.conversation);
  renderList();
  if (conversation.id === state.currentId) {
    renderHeader(conversation);
    if (conversation.kind === "room") {
      document.dispatchEvent(new CustomEvent("parley:room-changed", { detail: conversation }));
    }
  }
});

connection.addEventListener("conversation.left", (event) => {
  state.conversations.delete(event.detail.conversation);
  if (state.currentId === event.detail.conversation) conversationClose();
  renderList();
});

connection.addEventListener("conversation.read", (event) => {
  const conversation = state.conversations.get(event.detail.conversation);
  if (!conversation) return;
  conversation.unread = event.detail.unread;
  conversation.last_read_seq = event.detail.last_read_seq;
  renderList();
});

connection.addEventListener("typing", (event) => {
  const frame = event.detail;
  const conversation = state.conversations.get(frame.conversation);
  if (!conversation || frame.user.username === state.me) return;
  conversation.typers.set(frame.user.username,
    { name: frame.user.display_name, until: Date.now() + TYPING_SHOWN_MS });
  if (conversation.id === state.currentId) {
    renderTyping(conversation);
    window.setTimeout(() => {
      if (conversation.id === state.currentId) renderTyping(conversation);
    }, TYPING_SHOWN_MS + 50);
  }
});

// The server's live frames had a gap (its channel layer reconnected) while this socket stayed
// open: fetch what may be missing in every conversation shown, from the last seq held.
connection.addEventListener("resync", () => {
  for (const conversation of state.conversations.values()) {
    conversation.isSyncing = false;
    if (conversation.loaded) syncRequest(conversation);
  }
});

connection.addEventListener("error", (event) => {
  if (event.detail.ref === undefined) alertLine(event.detail.detail);
});
