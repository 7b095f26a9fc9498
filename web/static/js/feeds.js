// Topic feeds on the rooms page: create one (words, #hashtags, rooms, authors), the list with
// unread counts (live `feed.match`), and a feed's matches, newest first, with paging.

import { api } from "./api.js";
import { connection } from "./connection.js";
import { h, replaceChildren, timeElement } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { showError } from "./state.js";
import { format, gettext } from "./i18n.js";

const list = document.getElementById("feed-list");
const empty = document.getElementById("feed-empty");
const form = document.getElementById("feed-form");
const error = document.getElementById("feed-error");
const roomsSelect = document.getElementById("feed-rooms");
const matchesSection = document.getElementById("feed-matches");
const matchesHeading = document.getElementById("feed-matches-heading");
const matchList = document.getElementById("feed-match-list");
const moreButton = document.getElementById("feed-more");

const feeds = new Map(); // id -> feed
let shown = null; // {id, nextBefore}

function words(text) {
  return text.split(",").map((word) => word.trim()).filter(Boolean);
}

/** Offer these rooms (the ones I am in) as a feed's rooms. */
export function roomOptionsSet(rooms) {
  const selected = new Set([...roomsSelect.selectedOptions].map((o) => o.value));
  replaceChildren(roomsSelect, rooms.map((room) =>
    h("option", { value: room.id, selected: selected.has(String(room.id)) }, room.name)));
}

export async function feedsLoad() {
  try {
    const { results } = await api("feeds/");
    feeds.clear();
    for (const feed of results) feeds.set(feed.id, feed);
    render();
    if (shown) matchesLoad(shown.id);
  } catch (failure) {
    showError(error, failure.message);
  }
}

function describe(feed) {
  return [
    feed.words.length ? `words: ${feed.words.join(", ")}` : null,
    feed.hashtags.length ? feed.hashtags.map((t) => `#${t.replace(/^#/, "")}`).join(" ") : null,
    feed.rooms.length ? `${feed.rooms.length} room(s)` : null,
    feed.authors.length ? `${feed.authors.length} author(s)` : null,
  ].filter(Boolean).join(" · ");
}

function render() {
  replaceChildren(list, [...feeds.values()].map((feed) =>
    h("li", { dataset: { feed: feed.id } },
      h("button", {
        type: "button", class: "conversation-item",
        "aria-current": shown && shown.id === feed.id ? "true" : null,
        onclick: () => matchesLoad(feed.id),
      },
      h("span", { class: "conversation-name" }, feed.name,
        h("span", { class: "muted feed-criteria" }, describe(feed))),
      feed.unread > 0
        ? h("span", { class: "badge", "aria-label": `${feed.unread} unread` }, String(feed.unread))
        : null))));
  empty.hidden = feeds.size > 0;
}

function matchItem(message) {
  return h("li", { class: "match" },
    h("div", { class: "message-meta" },
      h("a", { href: `/c/${message.conversation}/m/${message.seq}/` },
        message.conversation_title || gettext("Conversation")),
      h("span", {}, message.sender.display_name),
      timeElement(message.created_at)),
    h("div", { class: "message-body" }, renderMarkdown(message.body)));
}

async function matchesLoad(id, { older = false } = {}) {
  const feed = feeds.get(id);
  if (!feed) return;
  try {
    const page = await api(`feeds/${id}/matches/`, {
      params: { before: older && shown ? shown.nextBefore : undefined },
    });
    shown = { id, nextBefore: page.next_before };
    matchesSection.hidden = false;
    matchesHeading.textContent = format(gettext("Matches of “%(feed)s”"), { feed: feed.name });
    const items = page.results.map(matchItem);
    if (older) {
      matchList.append(...items);
    } else {
      replaceChildren(matchList, items.length ? items
        : h("li", { class: "muted" }, gettext("Nothing has matched yet.")));
    }
    moreButton.hidden = !page.next_before;
    if (feed.unread > 0) {
      Object.assign(feed, await api(`feeds/${id}/read/`, { method: "POST" }));
    }
    render();
  } catch (failure) {
    showError(error, failure.message);
  }
}

moreButton.addEventListener("click", () => {
  if (shown) matchesLoad(shown.id, { older: true });
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(error, "");
  try {
    const feed = await api("feeds/", {
      method: "POST",
      body: {
        name: form.elements.name.value.trim(),
        words: words(form.elements.words.value),
        hashtags: words(form.elements.hashtags.value).map((t) => t.replace(/^#/, "")),
        rooms: [...roomsSelect.selectedOptions].map((o) => Number(o.value)),
        authors: words(form.elements.authors.value),
      },
    });
    feeds.set(feed.id, feed);
    form.reset();
    document.getElementById("feed-create").open = false;
    render();
  } catch (failure) {
    showError(error, failure.message);
  }
});

connection.addEventListener("feed.match", (event) => {
  const { feed: notice, message } = event.detail;
  const feed = feeds.get(notice.id);
  if (!feed) {
    feedsLoad();
    return;
  }
  feed.unread = notice.unread;
  if (shown && shown.id === feed.id) {
    matchList.querySelector(".muted")?.remove();
    matchList.prepend(matchItem({ ...message, conversation_title: message.conversation_title }));
  }
  render();
});
