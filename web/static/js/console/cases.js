// Cases: the list (open, closed or all) and opening a new case.

import { h, replaceChildren } from "../dom.js";
import { showError } from "../state.js";
import { archive, caseStatusLabel, when } from "./common.js";

const rows = document.getElementById("case-rows");
const empty = document.getElementById("cases-empty");
const error = document.getElementById("cases-error");
const statusSelect = document.getElementById("case-status");
const form = document.getElementById("case-form");
const formError = document.getElementById("case-form-error");

async function casesLoad() {
  showError(error, "");
  try {
    const { results } = await archive("cases/", { params: { status: statusSelect.value } });
    replaceChildren(rows, results.map((item) => h("tr", {},
      h("td", {}, h("a", { href: `/console/cases/${item.id}/` }, item.name)),
      h("td", {}, caseStatusLabel(item.status)), h("td", {}, item.owner), h("td", {}, when(item.created_at)))));
    empty.hidden = results.length > 0;
  } catch (failure) {
    showError(error, failure.message);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(formError, "");
  try {
    const item = await archive("cases/", {
      method: "POST",
      body: { name: form.elements.name.value.trim(), description: form.elements.description.value },
    });
    location.assign(`/console/cases/${item.id}/`);
  } catch (failure) {
    showError(formError, failure.message);
  }
});

statusSelect.addEventListener("change", casesLoad);
casesLoad();

document.body.dataset.ready = "true"; // the page's handlers are in place (tests wait for it)
