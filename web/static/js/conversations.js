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
import { h, replaceChildren, timeElement } from "./dom.js";
import { dateTimeFormat, format, gettext, ngettext } from "./i18n.js";
import { renderMarkdown } from "./markdown.js";
import { editStart, messageElement, personButton, setReplyHandler } from "./messages.js";
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
const leftNote = document.getElementById("left-note");
const pageNotice = document.getElementById("page-notice");
const dayFormat = dateTimeFormat({
  weekday: "long", month: "long", day: "numeric", year: "numeric",
});
const GROUP_WITHIN_MS = 5 * 60 * 1000; // one sender's messages this close form one group
const drafts = new Map(); // conversation id -> what I had typed there
const replyBar = document.getElementById("reply-bar");
const replyBarText = document.getElementById("reply-bar-text");
const mentionList = document.getElementById("mention-list");
let replyTo = null; // the message my next one answers

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
  if ("mention_count" in data) conversation.mention_count = data.mention_count;
  if ("read_by" in data) {
    conversation.readBy = new Map((data.read_by || []).map((r) => [userName(r.user), r.seq]));
  }
  for (const person of data.participants || []) {
    if (person.username !== state.me) connection.watch(person.username);
  }
  return conversation;
}

/** A frame's person: {username, display_name} (or a bare username). */
function userName(user) {
  return typeof user === "string" ? user : user.username;
}

function others(conversation) {
  return (conversation.participants || []).filter((p) => p.username !== state.me);
}

export function conversationTitle(conversation) {
  if (conversation.kind === "room" || conversation.title) {
    return conversation.title || gettext("Room");
  }
  const names = others(conversation).map((p) => p.display_name);
  return names.length ? names.join(gettext(", ")) : gettext("Just me");
}

/** The newest message I hold of a conversation, as "Bob: text" (or nothing). */
function previewLine(conversation) {
  const preview = conversation.preview;
  if (!preview) return null;
  const who = preview.sender.username === state.me ? gettext("You")
    : preview.sender.display_name.split(" ")[0];
  const text = preview.deleted ? gettext("(deleted)")
    : preview.file ? `📎 ${preview.file.name}` : preview.body.replace(/\s+/g, " ");
  return h("span", { class: "conversation-preview" }, `${who}: ${text}`);
}

function previewUpdate(conversation, message) {
  if (!conversation.preview || conversation.preview.seq <= message.seq) {
    conversation.preview = message;
  }
}

/**
 * Ask for the last message of conversations the page has not loaded (for the previews): a
 * `sync` from the seq before it, which reads forward (a backward page of history would be
 * archived as a history view). The sync.batch handler below takes the answers.
 */
function previewsLoad() {
  const missing = [...state.conversations.values()]
    .filter((c) => !c.preview && !c.loaded && c.last_seq > 0 && !c.previewAsked).slice(0, 40);
  for (const conversation of missing) {
    conversation.previewAsked = true;
    connection.request({
      type: "sync", conversation: conversation.id, after_seq: conversation.last_seq - 1,
    }).catch(() => {
      conversation.previewAsked = false; // a preview is a convenience: try at the next hello
    });
  }
}

export function renderList() {
  const conversations = [...state.conversations.values()].sort((a, b) =>
    (b.last_message_at || b.created_at || "")
      .localeCompare(a.last_message_at || a.created_at || ""));
  replaceChildren(listElement, conversations.map((conversation) => {
    const title = conversationTitle(conversation);
    const direct = conversation.kind === "direct" ? others(conversation)[0] : null;
    const mentionBadge = conversation.mention_count > 0
      ? h("span", { class: "badge badge--mention",
        "aria-label": format(ngettext("%(count)s mention of you", "%(count)s mentions of you",
          conversation.mention_count), { count: conversation.mention_count }) }, "@")
      : null;
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
      h("span", { class: "conversation-text" },
        h("span", { class: "conversation-name" }, title),
        previewLine(conversation)),
      conversation.last_message_at ? timeElement(conversation.last_message_at) : null,
      mentionBadge, badge));
  }));
  listEmpty.hidden = state.conversations.size > 0;
  const unread = [...state.conversations.values()].reduce((sum, c) => sum + c.unread, 0);
  document.title = unread ? `(${unread}) Chat · Parley` : "Chat · Parley";
}

// -- the view -------------------------------------------------------------------------------

export function current() {
  return state.conversations.get(state.currentId) || null;
}

/** Keep the address bar on what is shown: /c/<id>/, /c/<id>/m/<seq>/, or / for the list. */
function addressSet(path, { replace = false } = {}) {
  if (location.pathname === path) return;
  if (replace) {
    history.replaceState({ path }, "", path);
  } else {
    history.pushState({ path }, "", path);
  }
}

function draftSave() {
  if (state.currentId !== null) drafts.set(state.currentId, composerText.value);
}

/**
 * Show a conversation (loading its recent history the first time). With `seq`, scroll to
 * that message and mark it. `address`: "push" (a new history entry), "replace" or "keep".
 */
export async function conversationOpen(id, { focusComposer = true, seq = null,
  address = "push" } = {}) {
  const conversation = state.conversations.get(id);
  if (!conversation) return;
  if (state.currentId !== id) {
    draftSave();
    composerText.value = drafts.get(id) || "";
    replySet(null);
    mentionsClose();
    conversation.newLineSeq = conversation.unread > 0 ? conversation.last_read_seq : null;
  }
  composerEnable(true);
  leftNote.hidden = true;
  if (address !== "keep") {
    addressSet(seq ? `/c/${id}/m/${seq}/` : `/c/${id}/`, { replace: address === "replace" });
  }
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
  if (conversation.kind !== "room") readByLoad(conversation);
  if (seq) {
    await messageReveal(conversation, seq);
  } else {
    scrollToEnd();
    if (focusComposer) composerText.focus();
  }
  markRead(conversation);
}

/** Scroll to a message (loading earlier pages as needed), mark it and give it focus. */
async function messageReveal(conversation, seq) {
  while (!conversation.messages.has(seq) && conversation.hasMore
    && conversation.firstSeq !== null && conversation.firstSeq > seq) {
    // Whole pages back from what is held, so the list never has a hole.
    if (!await earlierLoad(conversation, { before: conversation.firstSeq })) {
      break;
    }
  }
  if (conversation.id !== state.currentId) return;
  const message = conversation.messages.get(seq);
  const item = message && document.getElementById(`message-${message.id}`);
  if (!item) {
    alertLine(gettext("That message is not there any more, or you may not see it."));
    scrollToEnd();
    return;
  }
  for (const marked of messageList.querySelectorAll(".message--target")) {
    marked.classList.remove("message--target");
  }
  item.classList.add("message--target");
  item.setAttribute("tabindex", "-1");
  item.scrollIntoView({ block: "center" });
  item.focus({ preventScroll: true });
}

function composerEnable(isEnabled) {
  composerText.readOnly = !isEnabled;
  for (const button of composer.querySelectorAll("button")) button.disabled = !isEnabled;
}

/** Draw the shown conversation's messages again (a role change alters their actions). */
export function messagesRedraw() {
  const conversation = current();
  if (conversation) renderMessages(conversation);
}

export function conversationClose({ address = "push" } = {}) {
  draftSave();
  if (address !== "keep") addressSet("/", { replace: address === "replace" });
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
        format(ngettext("%(count)s member", "%(count)s members", conversation.participant_count),
          { count: conversation.participant_count })].filter(Boolean).join(" · "))
      : people.map((p) => personButton(p, conversation.kind === "direct" ? "status" : "name")));
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
    drafts.delete(conversation.id);
    composerText.value = "";
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
  replaceChildren(messageList, sorted.map(messageElement),
    (conversation.notices || []).map(noticeElement));
  for (const notice of [...messageList.querySelectorAll(".system-notice")]) {
    const after = [...messageList.querySelectorAll(".message")]
      .find((li) => Number(li.dataset.seq) > Number(notice.dataset.seq));
    if (after) messageList.insertBefore(notice, after);
  }
  replaceChildren(pendingList, [...outbox.values()]
    .filter((entry) => entry.conversation === conversation.id).map((entry) => entry.element));
  loadEarlierButton.hidden = !conversation.hasMore;
  decorate();
}

function dayKey(iso) {
  return iso ? new Date(iso).toDateString() : "";
}

/**
 * Day dividers between messages of different days, and one sender's consecutive messages
 * grouped (the later ones without a repeated name). Recomputed over the list as it is, so a
 * message being edited keeps its form.
 */
function decorate() {
  for (const divider of messageList.querySelectorAll(".day-divider, .new-messages")) {
    divider.remove();
  }
  let previous = null;
  for (const item of [...messageList.children]) {
    if (!item.classList.contains("message")) {
      previous = null;
      continue;
    }
    const at = item.dataset.at;
    if (at && (!previous || dayKey(previous.dataset.at) !== dayKey(at))) {
      const label = dayKey(at) === new Date().toDateString() ? gettext("Today")
        : dayFormat.format(new Date(at));
      messageList.insertBefore(h("li", { class: "day-divider" }, h("span", {}, label)), item);
      previous = null;
    }
    const isContinued = Boolean(previous && previous.dataset.sender === item.dataset.sender
      && new Date(at) - new Date(previous.dataset.at) < GROUP_WITHIN_MS);
    item.classList.toggle("message--continued", isContinued);
    previous = item;
  }
  const conversation = current();
  if (conversation) {
    newLineDraw(conversation);
    seenDraw(conversation);
  }
}

document.addEventListener("parley:messages-changed", decorate);

/** "New messages" above the first message I had not read when I opened the conversation. */
function newLineDraw(conversation) {
  messageList.querySelector(".new-messages")?.remove();
  if (conversation.newLineSeq === null || conversation.newLineSeq === undefined) return;
  const first = [...messageList.querySelectorAll(".message")]
    .find((li) => Number(li.dataset.seq) > conversation.newLineSeq
      && li.dataset.sender !== state.me);
  if (!first) return;
  const line = h("li", { class: "new-messages" }, h("span", {}, gettext("New messages")));
  const divider = first.previousElementSibling;
  messageList.insertBefore(line,
    divider && divider.classList.contains("day-divider") ? divider : first);
}

/** "Seen" (direct) or "Seen by Bob, Carol" (group) under my newest message others have read. */
function seenDraw(conversation) {
  messageList.querySelector(".seen")?.remove();
  if (conversation.kind === "room" || !conversation.readBy) return;
  const mine = [...messageList.querySelectorAll(".message--mine")];
  for (const item of mine.reverse()) {
    const seq = Number(item.dataset.seq);
    const readers = [...conversation.readBy.entries()]
      .filter(([user, readSeq]) => user !== state.me && readSeq >= seq).map(([user]) => user);
    if (!readers.length) continue;
    const names = readers.map((user) => (conversation.participants || [])
      .find((p) => p.username === user)?.display_name || user);
    const text = conversation.kind === "direct" ? gettext("Seen")
      : format(gettext("Seen by %(names)s"), { names: names.join(", ") });
    item.append(h("p", { class: "seen" }, text));
    return;
  }
}

async function readByLoad(conversation) {
  try {
    const data = await api(`conversations/${conversation.id}/`);
    conversationUpsert(data);
    if (conversation.id === state.currentId) seenDraw(conversation);
  } catch {
    // receipts are a courtesy; the conversation works without them
  }
}

/** A line in the conversation such as "Bob Chen left" (seen live, not kept in history). */
function noticeElement(notice) {
  return h("li", { class: "system-notice", dataset: { seq: notice.seq } }, notice.text);
}

function noticeAdd(conversation, text) {
  const notice = { seq: conversation.last_seq + 0.5, text };
  conversation.notices = [...(conversation.notices || []), notice];
  if (conversation.id === state.currentId) {
    const wasNearEnd = nearEnd();
    messageList.append(noticeElement(notice));
    announcer.textContent = text;
    decorate();
    if (wasNearEnd) scrollToEnd();
  }
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
  previewUpdate(conversation, message);
  if (conversation.id !== state.currentId) return;
  const element = messageElement(message);
  const existing = document.getElementById(`message-${message.id}`);
  if (existing) {
    if (existing.classList.contains("message--target")) element.classList.add("message--target");
    existing.replaceWith(element);
    decorate();
    return;
  }
  const wasNearEnd = nearEnd();
  const after = [...messageList.children].find((li) => li.dataset.seq !== undefined
    && Number(li.dataset.seq) > message.seq);
  messageList.insertBefore(element, after || null);
  decorate();
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
    alertLine(format(gettext("Could not load the history: %(reason)s"), { reason: failure.message }));
  }
}

/** Load the page of history before a seq; resolve whether it worked. */
async function earlierLoad(conversation, { before, limit = HISTORY_PAGE }) {
  try {
    const page = await api(`conversations/${conversation.id}/messages/`, {
      params: { before_seq: before, limit },
    });
    conversation.hasMore = page.has_more;
    for (const message of page.results) {
      conversation.messages.set(message.seq, message);
      conversation.firstSeq = Math.min(conversation.firstSeq ?? message.seq, message.seq);
    }
    if (conversation.id === state.currentId) renderMessages(conversation);
    return page.results.length > 0;
  } catch (failure) {
    alertLine(format(gettext("Could not load earlier messages: %(reason)s"),
      { reason: failure.message }));
    return false;
  }
}

loadEarlierButton.addEventListener("click", async () => {
  const conversation = current();
  if (!conversation || conversation.firstSeq === null) return;
  const height = scroller.scrollHeight;
  if (await earlierLoad(conversation, { before: conversation.firstSeq })) {
    scroller.scrollTop += scroller.scrollHeight - height; // keep what was on screen in place
    const first = messageList.querySelector(".message");
    if (first) first.setAttribute("tabindex", "-1");
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
      conversation.mention_count = 0;
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
    : names.length === 1 ? format(gettext("%(name)s is typing…"), { name: names[0] })
      : format(gettext("%(names)s are typing…"), { names: names.join(gettext(", ")) });
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
    client_id: entry.clientId, ...(entry.replyTo ? { reply_to: entry.replyTo } : {}),
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
      entry.element.querySelector(".message-status").textContent = gettext("Waiting for the server…");
      window.setTimeout(() => {
        if (outbox.has(entry.clientId)) outboxSend(entry);
      }, retryDelay(failure));
      return;
    }
    outbox.delete(entry.clientId);
    entry.element.classList.add("message--failed");
    const status = entry.element.querySelector(".message-status");
    status.textContent = format(gettext("Not sent: %(reason)s"), { reason: failure.message });
    // The text is not lost: back in the box to shorten or fix and send again.
    const restore = () => {
      entry.element.remove();
      if (state.currentId === entry.conversation) {
        composerText.value = entry.body;
        composerText.focus();
      } else {
        drafts.set(entry.conversation, entry.body);
      }
    };
    status.append(" ", h("button", { type: "button", class: "link-button", onclick: restore },
      gettext("Edit and send again")));
    if (!composerText.value && state.currentId === entry.conversation) {
      composerText.value = entry.body;
      composerText.focus();
    }
  });
}

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const conversation = current();
  const body = composerText.value;
  if (!conversation || !body.trim()) return;
  const entry = { conversation: conversation.id, body, clientId: clientId(), seq: null,
    replyTo: replyTo ? replyTo.id : null };
  replySet(null);
  mentionsClose();
  entry.element = h("li", { class: "message message--mine message--pending" },
    h("div", { class: "message-body" }, renderMarkdown(body)),
    h("div", { class: "message-status muted" }, gettext("Sending…")));
  outbox.set(entry.clientId, entry);
  pendingList.append(entry.element);
  scrollToEnd();
  composerText.value = "";
  lastTypingSent = 0;
  showError(composerError, "");
  if (connection.isOpen) outboxSend(entry);
});

composerText.addEventListener("keydown", (event) => {
  if (!mentionList.hidden && mentionKey(event)) return;
  if (event.key === "Escape" && replyTo) {
    event.preventDefault();
    replySet(null);
  } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    composer.requestSubmit();
  } else if (event.key === "ArrowUp" && !composerText.value && !event.isComposing) {
    // Up in an empty box edits my last message, as in other chats.
    const conversation = current();
    const mine = conversation && [...conversation.messages.values()]
      .filter((m) => m.sender.username === state.me && !m.deleted && !m.file)
      .sort((a, b) => b.seq - a.seq)[0];
    if (mine) {
      event.preventDefault();
      editStart(mine);
    }
  }
});

// -- replies ----------------------------------------------------------------------------------

function replySet(message) {
  replyTo = message;
  replyBar.hidden = !message;
  if (message) {
    replyBarText.textContent = format(gettext("Replying to %(name)s: %(text)s"), {
      name: message.sender.display_name,
      text: (message.body || (message.file ? message.file.name : "")).replace(/\s+/g, " ")
        .slice(0, 120),
    });
  }
}

setReplyHandler((message) => {
  replySet(message);
  composerText.focus();
});
document.getElementById("reply-cancel").addEventListener("click", () => {
  replySet(null);
  composerText.focus();
});

// -- @mentions: suggestions from the people of the conversation -------------------------------

const roomMembers = new Map(); // room id -> [{username, display_name}]
let mentionStart = -1;
let mentionActive = 0;

async function mentionCandidates(conversation) {
  if (conversation.kind !== "room") return conversation.participants || [];
  if (!roomMembers.has(conversation.id)) {
    try {
      const { results } = await api(`rooms/${conversation.id}/members/`);
      roomMembers.set(conversation.id, results);
    } catch {
      return [];
    }
  }
  return roomMembers.get(conversation.id);
}

function mentionsClose() {
  mentionList.hidden = true;
  mentionStart = -1;
  composerText.removeAttribute("aria-activedescendant");
  replaceChildren(mentionList);
}

function mentionChoose(person) {
  const text = composerText.value;
  const end = composerText.selectionStart;
  composerText.value = `${text.slice(0, mentionStart)}@${person.username} ${text.slice(end)}`;
  const caret = mentionStart + person.username.length + 2;
  composerText.setSelectionRange(caret, caret);
  mentionsClose();
  composerText.focus();
}

function mentionHighlight() {
  const options = [...mentionList.children];
  options.forEach((option, index) => option.setAttribute("aria-selected",
    index === mentionActive ? "true" : "false"));
  if (options[mentionActive]) {
    composerText.setAttribute("aria-activedescendant", options[mentionActive].id);
  }
}

/** Arrow keys, Enter/Tab and Escape in the suggestions; true when the key was theirs. */
function mentionKey(event) {
  const count = mentionList.children.length;
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    mentionActive = (mentionActive + (event.key === "ArrowDown" ? 1 : count - 1)) % count;
    mentionHighlight();
    return true;
  }
  if (event.key === "Enter" || event.key === "Tab") {
    event.preventDefault();
    mentionList.children[mentionActive]?.click();
    return true;
  }
  if (event.key === "Escape") {
    event.preventDefault();
    mentionsClose();
    return true;
  }
  return false;
}

composerText.addEventListener("input", async () => {
  const conversation = current();
  const before = composerText.value.slice(0, composerText.selectionStart);
  const match = before.match(/(?:^|\s)@([\w.+-]*)$/);
  if (!conversation || !match) {
    mentionsClose();
    return;
  }
  mentionStart = before.length - match[1].length - 1;
  const typed = match[1].toLowerCase();
  const people = (await mentionCandidates(conversation))
    .filter((p) => p.username !== state.me && (p.username.toLowerCase().startsWith(typed)
      || p.display_name.toLowerCase().split(/\s+/).some((word) => word.startsWith(typed))))
    .slice(0, 8);
  if (!people.length) {
    mentionsClose();
    return;
  }
  mentionActive = 0;
  replaceChildren(mentionList, people.map((person) => h("li", {
    id: `mention-${person.username}`, role: "option", class: "mention-option",
    onmousedown: (event) => event.preventDefault(), // keep the focus in the box
    onclick: () => mentionChoose(person),
  }, `${person.display_name} `, h("span", { class: "muted" }, `@${person.username}`))));
  mentionList.hidden = false;
  mentionHighlight();
});

// -- add person (a direct conversation escalates to a NEW group) ------------------------------

addPersonButton.addEventListener("click", () => {
  const conversation = current();
  if (!conversation) return;
  addPersonHint.textContent = conversation.kind === "direct"
    ? gettext("This starts a new group conversation with the three of you; the person you add does not see this conversation's history.")
    : gettext("They join this conversation.");
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

// -- the address bar -----------------------------------------------------------------------

let routed = false;

/** {id, seq} of the conversation (and message) the address names, or null. */
function routeParse() {
  const match = location.pathname.match(/^\/c\/(\d+)\/(?:m\/(\d+)\/)?$/);
  if (match) return { id: Number(match[1]), seq: match[2] ? Number(match[2]) : null };
  const legacy = Number(new URLSearchParams(location.search).get("conversation"));
  return legacy ? { id: legacy, seq: null } : null;
}

window.addEventListener("popstate", () => {
  const route = routeParse();
  if (route && state.conversations.has(route.id)) {
    conversationOpen(route.id, { seq: route.seq, address: "keep", focusComposer: false });
  } else if (state.currentId !== null) {
    conversationClose({ address: "keep" });
  }
});

// A link to a message in this page (a message's time, a search hit) opens it without reloading.
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href^='/c/']");
  if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
  const match = link.getAttribute("href").match(/^\/c\/(\d+)\/(?:m\/(\d+)\/)?$/);
  if (!match || !state.conversations.has(Number(match[1]))) return;
  event.preventDefault();
  conversationOpen(Number(match[1]), { seq: match[2] ? Number(match[2]) : null });
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
  previewsLoad();
  // The address names a conversation (/c/12/, /c/12/m/40/, or /?conversation=12 from older
  // links): open it once, on the first hello.
  if (!routed) {
    routed = true;
    const route = routeParse();
    if (route && state.conversations.has(route.id)) {
      conversationOpen(route.id, { seq: route.seq, address: "replace" });
      return;
    }
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
        if ((message.mentions || []).includes(state.me)) {
          conversation.mention_count = (conversation.mention_count || 0) + 1;
        }
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
  if (!conversation.loaded) {
    // A preview's answer (or a sync asked before a reconnect): the history loads on opening.
    const last = batch.messages[batch.messages.length - 1];
    if (last) previewUpdate(conversation, last);
    renderList();
    return;
  }
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
  const left = event.detail.left;
  if (left && left.user && left.user.username !== state.me) {
    noticeAdd(conversation, format(left.reason === "left" ? gettext("%(name)s left")
      : gettext("%(name)s was removed"), { name: left.user.display_name }));
  }
  renderList();
  if (conversation.id === state.currentId) {
    renderHeader(conversation);
    if (conversation.kind === "room") {
      document.dispatchEvent(new CustomEvent("parley:room-changed", { detail: conversation }));
    }
  }
});

const LEFT_REASONS = {
  removed_by_manager: () => gettext("You were removed from %(title)s by %(name)s."),
  ethical_wall: () => gettext("You were removed from %(title)s: an information barrier now "
    + "keeps you out of it."),
};

connection.addEventListener("conversation.left", (event) => {
  const { conversation: id, reason, by } = event.detail;
  const conversation = state.conversations.get(id);
  if (!conversation) return; // I left it myself: already gone from the page
  const title = conversationTitle(conversation);
  state.conversations.delete(id);
  const text = format((LEFT_REASONS[reason] || (() => gettext("You left %(title)s.")))(),
    { title, name: by ? by.display_name : gettext("a manager") });
  if (state.currentId === id) {
    // Stay on it, read-only, with the reason, and what I was typing still in the box.
    leftNote.textContent = `${text} ${composerText.value
      ? gettext("What you typed is kept below.") : ""}`;
    leftNote.hidden = false;
    composerEnable(false);
    addPersonButton.hidden = true;
    leaveButton.hidden = true;
    document.getElementById("room-details").hidden = true;
    drafts.delete(id);
  } else {
    pageNotice.textContent = text;
    pageNotice.hidden = false;
  }
  renderList();
});

connection.addEventListener("conversation.read", (event) => {
  const conversation = state.conversations.get(event.detail.conversation);
  if (!conversation) return;
  conversation.unread = event.detail.unread;
  if ("mention_count" in event.detail) {
    conversation.mention_count = event.detail.mention_count;
  } else if (event.detail.unread === 0) {
    conversation.mention_count = 0;
  }
  conversation.last_read_seq = event.detail.last_read_seq;
  renderList();
});

connection.addEventListener("read.receipt", (event) => {
  const { conversation: id, seq } = event.detail;
  const user = userName(event.detail.user);
  const conversation = state.conversations.get(id);
  if (!conversation) return;
  conversation.readBy = conversation.readBy || new Map();
  conversation.readBy.set(user, Math.max(conversation.readBy.get(user) || 0, seq));
  if (id === state.currentId) seenDraw(conversation);
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
