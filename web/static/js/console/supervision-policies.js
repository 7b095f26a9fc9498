// Supervision policies: the ones I review, and a new policy.

import { h, replaceChildren } from "../dom.js";
import { showError } from "../state.js";
import { listOf } from "./common.js";
import { supervision, word } from "./supervision-common.js";

const rows = document.getElementById("policy-rows");
const empty = document.getElementById("policies-empty");
const error = document.getElementById("policies-error");
const form = document.getElementById("policy-form");
const formError = document.getElementById("policy-form-error");
const formStatus = document.getElementById("policy-form-status");

const SCOPES = { internal: "everyone_internal", external: "everyone_external", both: "both" };

function dates(policy) {
  const parts = [];
  if (policy.start) parts.push(`${word("from")} ${policy.start.slice(0, 10)}`);
  if (policy.end) parts.push(`${word("until")} ${policy.end.slice(0, 10)}`);
  return parts.join(" ");
}

async function policiesLoad() {
  showError(error, "");
  try {
    const { results } = await supervision("policies/");
    replaceChildren(rows, results.map((policy) => h("tr", { dataset: { policy: policy.id } },
      h("td", {}, h("a", { href: `/console/supervision/?policy=${policy.id}` }, policy.name)),
      h("td", {}, [...policy.people, ...policy.departments, ...policy.groups].join(", ")),
      h("td", {}, policy.lexicon.join(" · ") || "—"),
      h("td", {}, `${policy.sample_percent} %`),
      h("td", {}, `${word(SCOPES[policy.scope])} ${dates(policy)}`.trim()),
      h("td", {}, policy.reviewers.join(", ")),
      h("td", {}, `${policy.open_items} ${word("items_open")}, `
        + `${policy.claimed_items} ${word("items_claimed")}`))));
    empty.hidden = results.length > 0;
  } catch (failure) {
    showError(error, failure.message);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(formError, "");
  formStatus.textContent = "";
  const value = (name) => form.elements[name].value.trim();
  try {
    await supervision("policies/", {
      method: "POST",
      body: {
        name: value("name"),
        people: listOf(value("people")),
        departments: listOf(value("departments")),
        groups: listOf(value("groups")),
        reviewers: listOf(value("reviewers")),
        lexicon: form.elements.lexicon.value.split("\n").map((line) => line.trim()).filter(Boolean),
        sample_percent: Number(value("sample_percent") || 0),
        scope: form.elements.scope.value,
        start: value("start") || null,
        end: value("end") || null,
      },
    });
    form.reset();
    form.elements.reviewers.value = document.body.dataset.user;
    formStatus.textContent = word("created");
    await policiesLoad();
  } catch (failure) {
    showError(formError, failure.message);
  }
});

await policiesLoad();
document.body.dataset.ready = "true"; // the page's handlers are in place (tests wait for it)
