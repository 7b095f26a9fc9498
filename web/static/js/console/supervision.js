// The supervision review queue: items of the policies I review, an item with its message in
// its conversation, and claim / resolve / reassign. The captured text enters the page only
// through highlight.js (text and <mark> ranges, never innerHTML).

import { h, replaceChildren } from "../dom.js";
import { showError } from "../state.js";
import { when } from "./common.js";
import { highlightNodes } from "./highlight.js";
import { supervision, word } from "./supervision-common.js";

const filters = document.getElementById("queue-filters");
const policySelect = document.getElementById("queue-policy");
const statusSelect = document.getElementById("queue-status");
const list = document.getElementById("item-list");
const empty = document.getElementById("queue-empty");
const more = document.getElementById("queue-more");
const queueError = document.getElementById("queue-error");
const card = document.getElementById("item-card");
const heading = document.getElementById("item-heading");
const facts = document.getElementById("item-facts");
const text = document.getElementById("item-text");
const now = document.getElementById("item-now");
const claimRow = document.getElementById("item-claim-row");
const claimButton = document.getElementById("item-claim");
const resolveForm = document.getElementById("resolve-form");
const caseRow = document.getElementById("resolve-case-row");
const resolveError = document.getElementById("resolve-error");
const reassignForm = document.getElementById("reassign-form");
const reassignSelect = document.getElementById("reassign-reviewer");
const itemError = document.getElementById("item-error");
const contextCard = document.getElementById("item-context-card");
const contextWhere = document.getElementById("item-context-where");
const contextList = document.getElementById("item-context");

const me = document.body.dataset.user;
let policies = new Map();
let current = null;
let nextBefore = null;

function tag(key) {
  return h("span", { class: "tag" }, word(key));
}

function itemRow(item) {
  return h("li", { class: "hit", dataset: { item: item.id } },
    h("div", { class: "hit-meta" },
      tag(item.reason),
      h("span", {}, item.policy_name),
      h("span", {}, item.message.sender.display_name),
      when(item.message.created_at),
      h("span", {}, item.reviewer ? `${word(item.status)} · ${item.reviewer}` : word(item.status)),
      item.decision ? h("strong", {}, word(item.decision)) : null),
    h("p", { class: "hit-text" }, highlightNodes(item.highlight, "")),
    item.matched.length
      ? h("p", { class: "muted" }, `${word("matched")}: ${item.matched.join(", ")}`) : null,
    h("button", {
      type: "button", class: "link-button", onclick: () => itemOpen(item.id),
      "aria-label": `${word("review")} ${item.id}`,
    }, word("review")));
}

async function policiesLoad() {
  const { results } = await supervision("policies/");
  policies = new Map(results.map((policy) => [policy.id, policy]));
  policySelect.append(...results.map((policy) => h("option", { value: policy.id }, policy.name)));
}

async function queueLoad({ append = false } = {}) {
  showError(queueError, "");
  try {
    const page = await supervision("items/", {
      params: {
        policy: policySelect.value, status: statusSelect.value,
        before: append ? nextBefore : undefined,
      },
    });
    if (!append) replaceChildren(list);
    list.append(...page.results.map(itemRow));
    nextBefore = page.next_before;
    more.hidden = !nextBefore;
    empty.hidden = list.children.length > 0;
  } catch (failure) {
    showError(queueError, failure.message);
  }
}

function factsShow(item) {
  const rows = [
    [word("policy"), item.policy_name],
    [word("reason"), item.matched.length
      ? `${word(item.reason)}: ${item.matched.join(", ")}` : word(item.reason)],
    [word("status"), word(item.status)],
    [word("reviewer"), item.reviewer || word("nobody")],
  ];
  if (item.decision) rows.push([word("decision"), word(item.decision)]);
  if (item.comment) rows.push([word("comment"), item.comment]);
  if (item.case) rows.push([word("case_opened"), `#${item.case}`]);
  replaceChildren(facts, rows.flatMap(([label, value]) => [h("dt", {}, label), h("dd", {}, value)]));
}

function actionsShow(item) {
  const isMine = item.reviewer === me;
  claimRow.hidden = item.status !== "open";
  resolveForm.hidden = item.status === "resolved" || (item.status === "claimed" && !isMine);
  reassignForm.hidden = item.status === "resolved";
  const reviewers = policies.get(item.policy)?.reviewers || [];
  replaceChildren(reassignSelect, reviewers.filter((name) => name !== item.reviewer)
    .map((name) => h("option", { value: name }, name)));
  caseRow.hidden = resolveForm.elements.decision.value !== "escalated";
}

async function itemOpen(id) {
  showError(itemError, "");
  showError(resolveError, "");
  try {
    const item = await supervision(`items/${id}/`, { params: { before: 5, after: 5 } });
    current = item;
    card.hidden = false;
    factsShow(item);
    replaceChildren(text, highlightNodes(item.highlight, ""));
    const changed = item.message.deleted ? word("deleted") : (item.message.edited_at ? word("edited") : "");
    now.hidden = !changed;
    now.textContent = changed ? `${word("captured")} — ${changed}` : "";
    actionsShow(item);
    contextCard.hidden = false;
    contextWhere.textContent = item.context.conversation_name;
    replaceChildren(contextList, item.context.records.map((record) => h("li", {
      class: `record--${record.event.split(".").pop()}${record.is_item ? " is-hit" : ""}`,
      dataset: { record: record.record },
    },
    h("div", { class: "hit-meta" }, when(record.created_at)),
    h("p", { class: "hit-text" }, record.description))));
    heading.focus();
  } catch (failure) {
    showError(itemError, failure.message);
  }
}

async function act(path, body, errorElement) {
  showError(errorElement, "");
  try {
    await supervision(`items/${current.id}/${path}/`, { method: "POST", body });
    await Promise.all([itemOpen(current.id), queueLoad()]);
  } catch (failure) {
    showError(errorElement, failure.message);
  }
}

claimButton.addEventListener("click", () => act("claim", undefined, itemError));
resolveForm.elements.decision.addEventListener("change", () => {
  caseRow.hidden = resolveForm.elements.decision.value !== "escalated";
});
resolveForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const decision = resolveForm.elements.decision.value;
  act("resolve", {
    decision,
    comment: resolveForm.elements.comment.value,
    open_case: decision === "escalated" && resolveForm.elements.open_case.checked,
  }, resolveError);
});
reassignForm.addEventListener("submit", (event) => {
  event.preventDefault();
  act("reassign", { reviewer: reassignSelect.value }, itemError);
});
filters.addEventListener("change", () => queueLoad());
more.addEventListener("click", () => queueLoad({ append: true }));

try {
  await policiesLoad();
  const wanted = new URLSearchParams(location.search).get("policy");
  if (wanted && policies.has(Number(wanted))) policySelect.value = wanted;
} catch (failure) {
  showError(queueError, failure.message);
}
await queueLoad();
document.body.dataset.ready = "true"; // the page's handlers are in place (tests wait for it)
