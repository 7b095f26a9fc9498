// The audit trail, newest first, with filters (actor, action, dates) and cursor paging.

import { h, replaceChildren } from "../dom.js";
import { showError } from "../state.js";
import { archive, when } from "./common.js";

const form = document.getElementById("audit-form");
const rows = document.getElementById("audit-rows");
const empty = document.getElementById("audit-empty");
const error = document.getElementById("audit-error");
const moreButton = document.getElementById("audit-more");

let params = {};
let cursor = null;

/** The action in words, as the filter's list names it (the server translated those). */
function actionLabel(action) {
  const option = [...form.elements.action.options].find((item) => item.value === action);
  return option ? option.textContent : action;
}

function row(entry) {
  return h("tr", { dataset: { sequence: entry.sequence, action: entry.action } },
    h("td", {}, String(entry.sequence)), h("td", {}, when(entry.occurred_at)),
    h("td", {}, entry.actor || "—"), h("td", {}, actionLabel(entry.action)), h("td", {}, entry.target),
    h("td", {}, entry.result_count === null ? "" : String(entry.result_count)));
}

async function load({ more = false } = {}) {
  showError(error, "");
  if (!more) {
    params = Object.fromEntries(["actor", "action", "since", "until"]
      .map((name) => [name, form.elements[name].value.trim()]));
  }
  try {
    const page = await archive("audit/", { params: { ...params, cursor: more ? cursor : null } });
    cursor = page.next_cursor;
    if (!more) replaceChildren(rows);
    rows.append(...page.results.map(row));
    empty.hidden = rows.children.length > 0;
    moreButton.hidden = !cursor;
  } catch (failure) {
    showError(error, failure.message);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  load();
});
moreButton.addEventListener("click", () => load({ more: true }));
load();

document.body.dataset.ready = "true"; // the page's handlers are in place (tests wait for it)
