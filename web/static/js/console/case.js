// One case: its holds with the records they cover, placing a hold, releasing one with a reason
// (required), saved searches, exporting the case, and closing it (only without active holds).

import { h, replaceChildren } from "../dom.js";
import { dateTimeFormat, format } from "../i18n.js";
import { showError } from "../state.js";
import { archive, caseStatusLabel, exportPageUrl, exportStart } from "./common.js";
import { picker } from "./picker.js";

const caseId = Number(document.getElementById("case-card").dataset.case);
const title = document.getElementById("case-title");
const description = document.getElementById("case-description");
const facts = document.getElementById("case-facts");
const statusLine = document.getElementById("case-status-line");
const error = document.getElementById("case-error");
const closeButton = document.getElementById("case-close");
const holdList = document.getElementById("hold-list");
const holdsEmpty = document.getElementById("holds-empty");
const holdForm = document.getElementById("hold-form");
const holdError = document.getElementById("hold-error");
const savedList = document.getElementById("saved-list");
const savedForm = document.getElementById("saved-form");
const savedError = document.getElementById("saved-error");
const exportForm = document.getElementById("case-export-form");
const exportError = document.getElementById("case-export-error");

const holdCustodians = picker(holdForm.elements.custodians, "people");
const holdConversations = picker(holdForm.elements.conversations, "conversations");
const savedPeople = picker(savedForm.elements.participants, "people");

let current = null;
const dateTime = dateTimeFormat({ dateStyle: "medium", timeStyle: "short" });
const moment = (iso) => dateTime.format(new Date(iso));

/** The last day a hold covers: its end is exclusive, so an end at midnight is the day before. */
function lastDay(end) {
  const moment = new Date(end);
  if (moment.getUTCHours() === 0 && moment.getUTCMinutes() === 0 && moment.getUTCSeconds() === 0
      && moment.getUTCMilliseconds() === 0) {
    moment.setUTCDate(moment.getUTCDate() - 1);
    return moment.toISOString().slice(0, 10);
  }
  return format(gettext("%(day)s (until %(time)s UTC)"),
    { day: end.slice(0, 10), time: end.slice(11, 16) });
}

function scopeOf(hold) {
  const parts = [];
  if (hold.custodian_names && hold.custodian_names.length) {
    parts.push([gettext("Custodians"), hold.custodian_names.map((p) => p.display_name).join(", ")]);
  }
  if (hold.conversation_names && hold.conversation_names.length) {
    parts.push([gettext("Conversations"), hold.conversation_names.map((c) => c.name).join(", ")]);
  }
  const any = pgettext("hold dates", "any");
  parts.push([gettext("Dates"), `${hold.start ? hold.start.slice(0, 10) : any} – `
    + `${hold.end ? lastDay(hold.end) : any}`]);
  if (hold.query) parts.push([gettext("Query"), hold.query]);
  parts.push([gettext("Placed"), `${hold.placed_by}, ${moment(hold.placed_at)}`]);
  if (!hold.is_active) {
    parts.push([gettext("Released"), `${hold.released_by}, ${moment(hold.released_at)}`]);
    parts.push([gettext("Reason"), hold.release_reason]);
  }
  return h("dl", {}, parts.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

function holdItem(hold) {
  const reasonId = `release-reason-${hold.id}`;
  const releaseError = h("p", { class: "error", role: "alert", hidden: true });
  const release = hold.is_active ? h("form", {
    class: "inline-form",
    onsubmit: async (event) => {
      event.preventDefault();
      const reason = event.currentTarget.elements.reason.value.trim();
      if (!reason) {
        showError(releaseError, gettext("Give the reason for releasing this hold."));
        return;
      }
      try {
        await archive(`holds/${hold.id}/release/`, { method: "POST", body: { reason } });
        statusLine.textContent = format(gettext("Hold %(id)s released."), { id: hold.id });
        await caseLoad();
      } catch (failure) {
        showError(releaseError, failure.message);
      }
    },
  },
  h("label", { for: reasonId }, format(gettext("Reason for releasing hold %(id)s"), { id: hold.id })),
  h("div", { class: "inline-form-row" },
    h("input", { id: reasonId, name: "reason", "aria-required": "true", autocomplete: "off" }),
    h("button", { type: "submit", class: "danger" }, gettext("Release"))),
  releaseError) : null;
  return h("article", { class: "hold", dataset: { hold: hold.id } },
    h("h3", {}, format(gettext("Hold %(id)s"), { id: hold.id }),
      h("span", { class: hold.is_active ? "tag tag--member" : "tag" },
        hold.is_active ? pgettext("hold", "active") : pgettext("hold", "released")),
      h("span", { class: "tag hold-count" },
        format(ngettext("%(count)s record held", "%(count)s records held", hold.record_count),
          { count: hold.record_count }))),
    scopeOf(hold), release);
}

function render() {
  title.textContent = current.name;
  document.title = `${current.name} · ${gettext("Cases")} · Parley`;
  description.textContent = current.description || "";
  facts.textContent = format(
    gettext("Case %(id)s · %(status)s · owner %(owner)s · opened %(opened)s"),
    {
      id: current.id, status: caseStatusLabel(current.status), owner: current.owner,
      opened: moment(current.created_at),
    },
  );
  closeButton.textContent = current.status === "open" ? gettext("Close case") : gettext("Reopen case");
  replaceChildren(holdList, current.holds.map(holdItem));
  holdsEmpty.hidden = current.holds.length > 0;
  replaceChildren(savedList, current.saved_searches.map((search) =>
    h("li", { class: "invitation" },
      h("p", {}, h("strong", {}, search.name), " ", h("code", {}, search.query || gettext("(filters only)"))),
      h("p", { class: "muted" }, Object.entries(search.filters || {})
        .filter(([, v]) => (Array.isArray(v) ? v.length : v))
        .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`).join(" · ")))));
}

async function caseLoad() {
  try {
    current = await archive(`cases/${caseId}/`);
    render();
  } catch (failure) {
    showError(error, failure.message);
  }
}

closeButton.addEventListener("click", async () => {
  showError(error, "");
  try {
    const status = current.status === "open" ? "closed" : "open";
    await archive(`cases/${caseId}/`, { method: "PATCH", body: { status } });
    statusLine.textContent = status === "closed" ? gettext("Case closed.") : gettext("Case reopened.");
    await caseLoad();
  } catch (failure) {
    showError(error, failure.message);
  }
});

holdForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(holdError, "");
  const field = (name) => holdForm.elements[name].value;
  const body = { query: field("query").trim() };
  if (holdCustodians.values().length) body.custodians = holdCustodians.values();
  if (holdConversations.values().length) body.conversations = holdConversations.values();
  if (field("start")) body.start = field("start");
  if (field("end")) body.end = field("end");
  try {
    const hold = await archive(`cases/${caseId}/holds/`, { method: "POST", body });
    holdForm.reset();
    holdCustodians.clear();
    holdConversations.clear();
    statusLine.textContent = format(
      ngettext("Hold %(id)s placed: %(count)s record held.", "Hold %(id)s placed: %(count)s records held.",
        hold.record_count),
      { id: hold.id, count: hold.record_count },
    );
    await caseLoad();
  } catch (failure) {
    showError(holdError, failure.message);
  }
});

savedForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(savedError, "");
  try {
    await archive(`cases/${caseId}/saved-searches/`, {
      method: "POST",
      body: {
        name: savedForm.elements.name.value.trim(), query: savedForm.elements.query.value.trim(),
        filters: { participants: savedPeople.values() },
      },
    });
    savedForm.reset();
    savedPeople.clear();
    await caseLoad();
  } catch (failure) {
    showError(savedError, failure.message);
  }
});

exportForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(exportError, "");
  try {
    const job = await exportStart({
      case: caseId,
      format: exportForm.elements.format.value,
      language: exportForm.elements.language.value,
      include_released_holds: exportForm.elements.include_released_holds.checked,
      include_history_views: exportForm.elements.include_history_views.checked,
    });
    location.assign(exportPageUrl(job));
  } catch (failure) {
    showError(exportError, failure.message);
  }
});

caseLoad();

document.body.dataset.ready = "true"; // the page's handlers are in place (tests wait for it)
