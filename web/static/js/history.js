// Search my own history (GET /api/v1/search/): hits with the matched words marked; a hit
// opens its conversation.

import { api } from "./api.js";
import { h, replaceChildren, timeElement } from "./dom.js";
import { format, gettext } from "./i18n.js";
import { renderHighlight } from "./markdown.js";
import { conversationOpen, conversationTitle } from "./conversations.js";
import { state } from "./state.js";

const form = document.getElementById("history-form");
const input = document.getElementById("history-q");
const results = document.getElementById("history-results");
const moreButton = document.getElementById("history-more");
let query = "";
let nextBefore = null;

function hitElement(hit) {
  const conversation = state.conversations.get(hit.conversation);
  const where = conversation ? conversationTitle(conversation)
    : hit.conversation_title || "A conversation";
  return h("li", {},
    h("button", {
      type: "button", class: "history-hit",
      onclick: () => conversationOpen(hit.conversation, { seq: hit.seq }),
    },
    h("span", { class: "history-where" },
      h("parley-presence", {
        user: hit.sender.username, variant: "name", name: hit.sender.display_name,
      }),
      ` · ${where} · `, timeElement(hit.created_at)),
    h("span", { class: "history-text" }, renderHighlight(hit.highlight))));
}

async function search(append) {
  if (!append) {
    // Never leave the previous query's hits on screen while (or if) this one fails.
    replaceChildren(results, h("li", { class: "muted" }, gettext("Searching…")));
    moreButton.hidden = true;
  }
  try {
    const page = await api("search/", { params: { q: query, before: append ? nextBefore : null } });
    nextBefore = page.next_before;
    const items = page.results.map(hitElement);
    if (append) {
      results.append(...items);
    } else {
      replaceChildren(results, items.length ? items
        : h("li", { class: "muted" }, format(gettext("Nothing found for “%(query)s”."),
          { query })));
    }
    moreButton.hidden = !nextBefore;
  } catch (failure) {
    const line = h("li", { class: "error", role: "alert" },
      format(gettext("The search failed: %(reason)s"), { reason: failure.message }));
    if (append) {
      results.append(line);
    } else {
      replaceChildren(results, line);
    }
    moreButton.hidden = true;
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  query = input.value.trim();
  nextBefore = null;
  if (query) {
    search(false);
  } else {
    replaceChildren(results);
    moreButton.hidden = true;
  }
});

moreButton.addEventListener("click", () => search(true));
