// Presence log lookup: a person's availability over a time range (audited by the API).

import { h, replaceChildren } from "../dom.js";
import { showError } from "../state.js";
import { archive, when } from "./common.js";

const form = document.getElementById("presence-form");
const error = document.getElementById("presence-error");
const summary = document.getElementById("presence-summary");
const rows = document.getElementById("presence-rows");

function isoOf(localValue) {
  return new Date(localValue).toISOString(); // the reader's local time, sent as UTC
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError(error, "");
  try {
    const log = await archive("presence-log/", {
      params: {
        username: form.elements.username.value.trim(),
        start: isoOf(form.elements.start.value), end: isoOf(form.elements.end.value),
      },
    });
    summary.textContent = `${log.user}: ${log.availability_at_start} at the start; `
      + `${log.entries.length} change${log.entries.length === 1 ? "" : "s"}`
      + (log.is_truncated ? " (only the first ones are shown)." : ".");
    replaceChildren(rows, log.entries.map((entry) => h("tr", {},
      h("td", {}, when(entry.at)), h("td", {}, entry.from), h("td", {}, entry.to),
      h("td", {}, entry.reason))));
  } catch (failure) {
    showError(error, failure.message);
  }
});

// Default range: the last 24 hours.
const now = new Date();
const local = (date) => new Date(date.getTime() - date.getTimezoneOffset() * 60000)
  .toISOString().slice(0, 16);
form.elements.end.value = local(now);
form.elements.start.value = local(new Date(now.getTime() - 24 * 3600 * 1000));

document.body.dataset.ready = "true"; // the page's handlers are in place (tests wait for it)
