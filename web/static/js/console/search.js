// Archive search: the query language and filters, highlighted hits, facets, cursor paging, and a
// hit's conversation context with edits and deletions marked. Record text only ever enters the
// page as text nodes: the API's highlight (escaped HTML with <mark>) is split into text and
// mark ranges by highlight.js, never given to innerHTML.

import { h, replaceChildren } from "../dom.js";
import { format, formatNumber, gettext } from "../i18n.js";
import { showError } from "../state.js";
import { archive, exportPageUrl, exportStart, listOf, when } from "./common.js";
import { highlightNodes } from "./highlight.js";
import { picker } from "./picker.js";

const PAGE = 25;
const form = document.getElementById("search-form");
const error = document.getElementById("search-error");
const statusLine = document.getElementById("search-status");
const hitList = document.getElementById("hit-list");
const moreButton = document.getElementById("search-more");
const facetsElement = document.getElementById("facets");
const contextCard = document.getElementById("context-card");
const contextHeading = document.getElementById("context-heading");
const contextWhere = document.getElementById("context-where");
const contextList = document.getElementById("context-list");
const exportForm = document.getElementById("search-export-form");

const EVENT_LABELS = {
  "message.posted": pgettext("archive event", "Message"),
  "message.edited": pgettext("archive event", "Edited"),
  "message.deleted": pgettext("archive event", "Deleted"),
  "message.removed_by_manager": pgettext("archive event", "Removed by a manager"),
  "file.uploaded": pgettext("archive event", "File"),
  "participant.joined": pgettext("archive event", "Joined"),
  "participant.left": pgettext("archive event", "Left"),
  "conversation.created": pgettext("archive event", "Conversation created"),
};
const KIND_CONVERSATIONS = {
  direct: gettext("direct conversation"),
  group: gettext("group conversation"),
  room: gettext("room"),
  external: gettext("external conversation"),
};

const pickers = {
  participants: picker(form.elements.participants, "people"),
  senders: picker(form.elements.senders, "people"),
  conversations: picker(form.elements.conversations, "conversations"),
};

let filters = null; // the search shown
let nextCursor = null;
let total = 0;
let totalIsExact = true;

function searchBody() {
  const field = (name) => form.elements[name].value;
  const body = {
    query: field("query").trim(),
    participants: pickers.participants.values(),
    senders: pickers.senders.values(),
    conversations: pickers.conversations.values(),
    kinds: [...form.querySelectorAll("input[name=kinds]:checked")].map((box) => box.value),
    events: listOf(field("events")),
    include_history_views: form.elements.include_history_views.checked,
  };
  if (field("start")) body.start = field("start");
  if (field("end")) body.end = field("end");
  return body;
}

function hitItem(hit) {
  const label = EVENT_LABELS[hit.event] || hit.event;
  return h("li", { class: `hit record--${hit.event.split(".").pop()}`, dataset: { record: hit.record } },
    h("div", { class: "hit-meta" },
      h("span", { class: "record-event" }, label),
      h("span", {}, hit.sender.display_name, " (", hit.sender.username, ")"),
      h("span", { class: "conversation-name" },
        hit.conversation_name || KIND_CONVERSATIONS[hit.conversation_kind] || hit.conversation_kind),
      when(hit.created_at)),
    hit.body || !hit.description
      ? h("p", { class: "hit-text" }, highlightNodes(hit.highlight, hit.body))
      : h("p", { class: "hit-text record-description" }, hit.description),
    h("button", {
      type: "button", class: "link-button", onclick: () => contextOpen(hit),
      "aria-label": format(gettext("Open the context of record %(record)s"), { record: hit.record }),
    }, gettext("Open context")));
}

function renderFacets(facets) {
  const titles = {
    senders: gettext("Senders"), conversations: gettext("Conversations"), days: gettext("Days"),
  };
  const groups = Object.entries(facets || {}).filter(([, counts]) => counts.length);
  replaceChildren(facetsElement, groups.length ? groups.map(([name, counts]) =>
    h("section", {},
      h("h3", {}, titles[name] || name),
      h("ul", {}, counts.slice(0, 10).map((facet) =>
        h("li", {}, name === "conversations" ? (facet.label || gettext("(unnamed conversation)")) : `${facet.value}`,
          h("span", { class: "muted" }, ` · ${formatNumber(facet.count)}`))))))
    : h("p", { class: "muted" }, gettext("No facets for this search.")));
}

async function searchRun({ more = false } = {}) {
  showError(error, "");
  if (!more) filters = searchBody();
  try {
    const page = await archive("search/", {
      method: "POST",
      body: { ...filters, cursor: more ? nextCursor : null, page_size: PAGE, facets: !more },
    });
    nextCursor = page.next_cursor;
    if (!more) {
      total = page.total;
      totalIsExact = page.total_is_exact !== false;
      replaceChildren(hitList);
      renderFacets(page.facets);
      contextCard.hidden = true;
    }
    hitList.append(...page.hits.map(hitItem));
    const counts = { total: formatNumber(total), shown: formatNumber(hitList.children.length) };
    statusLine.textContent = total === 0 ? gettext("Nothing matches.")
      : totalIsExact
        ? format(ngettext("%(total)s record; showing %(shown)s.", "%(total)s records; showing %(shown)s.",
          total), counts)
        : format(ngettext("at least %(total)s record; showing %(shown)s.",
          "at least %(total)s records; showing %(shown)s.", total), counts);
    moreButton.hidden = !nextCursor;
    exportForm.hidden = total === 0;
  } catch (failure) {
    if (!more) {
      // Never leave the previous search's hits on screen under this one's error.
      replaceChildren(hitList);
      statusLine.textContent = "";
      moreButton.hidden = true;
      exportForm.hidden = true;
      contextCard.hidden = true;
    }
    showError(error, `${gettext("The search failed:")} ${failure.message}`);
  }
}

async function contextOpen(hit) {
  try {
    const context = await archive(`records/${hit.record}/context/`, {
      params: { before: 10, after: 10, include_history_views: filters.include_history_views ? 1 : 0 },
    });
    contextCard.hidden = false;
    contextWhere.textContent = format(
      gettext("%(conversation)s, in archive order; edits and deletions are marked where they happened."),
      { conversation: context.conversation_name },
    );
    replaceChildren(contextList, context.records.map((record) => {
      const kind = record.event.split(".").pop();
      return h("li", {
        class: `record--${kind}${record.record === context.record ? " is-hit" : ""}`,
        dataset: { record: record.record, event: record.event },
      },
      h("div", { class: "hit-meta" },
        h("span", { class: "record-event" }, EVENT_LABELS[record.event] || record.event),
        h("span", {}, record.sender.display_name),
        record.message_seq
          ? h("span", {}, format(gettext("message #%(seq)s"), { seq: record.message_seq })) : null,
        when(record.created_at)),
      h("p", { class: "hit-text record-description" }, record.description || record.body));
    }));
    contextHeading.focus();
  } catch (failure) {
    showError(error, failure.message);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  searchRun();
});
moreButton.addEventListener("click", () => searchRun({ more: true }));

exportForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!filters) return;
  const search = Object.fromEntries(Object.entries(filters).filter(([, value]) =>
    (Array.isArray(value) ? value.length : value)));
  try {
    const job = await exportStart({
      search, format: exportForm.elements.format.value, language: exportForm.elements.language.value,
    });
    location.assign(exportPageUrl(job));
  } catch (failure) {
    showError(error, failure.message);
  }
});

document.body.dataset.ready = "true"; // the page's handlers are in place (tests wait for it)
