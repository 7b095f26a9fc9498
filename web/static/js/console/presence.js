// Presence log lookup: a person's availability over a time range (audited by the API).

import { h, replaceChildren } from "../dom.js";
import { format } from "../i18n.js";
import { availabilityLabel } from "../presence-labels.js";
import { showError } from "../state.js";
import { archive, when } from "./common.js";

const form = document.getElementById("presence-form");
const error = document.getElementById("presence-error");
const summary = document.getElementById("presence-summary");
const rows = document.getElementById("presence-rows");

// Why a person's availability changed (presence.models.PresenceLogEntry.Reason).
const REASONS = {
  manual: pgettext("presence change", "set by the person"),
  connect: pgettext("presence change", "signed in"),
  disconnect: pgettext("presence change", "signed out"),
  idle: pgettext("presence change", "inactive"),
  expiry: pgettext("presence change", "state expired"),
  calendar: pgettext("presence change", "calendar"),
};

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
    const values = {
      user: log.user, start: availabilityLabel(log.availability_at_start), count: log.entries.length,
    };
    summary.textContent = log.is_truncated
      ? format(ngettext("%(user)s: %(start)s at the start; %(count)s change (only the first ones are shown).",
        "%(user)s: %(start)s at the start; %(count)s changes (only the first ones are shown).",
        log.entries.length), values)
      : format(ngettext("%(user)s: %(start)s at the start; %(count)s change.",
        "%(user)s: %(start)s at the start; %(count)s changes.", log.entries.length), values);
    replaceChildren(rows, log.entries.map((entry) => h("tr", {},
      h("td", {}, when(entry.at)), h("td", {}, availabilityLabel(entry.from)),
      h("td", {}, availabilityLabel(entry.to)),
      h("td", {}, REASONS[entry.reason] || entry.reason))));
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
