// Helpers shared by the compliance console's pages (every call goes to /api/v1/archive/...,
// which refuses anyone outside the Compliance group and audits every read).

import { api } from "../api.js";
import { h } from "../dom.js";
import { dateTimeFormat } from "../i18n.js";

/** Call /api/v1/archive/<path>. */
export function archive(path, options) {
  return api(`archive/${path}`, options);
}

/** "a, b ,c" -> ["a", "b", "c"]. */
export function listOf(text) {
  return String(text || "").split(",").map((part) => part.trim()).filter(Boolean);
}

/** "12, 13" -> [12, 13] (what is not a number is left for the API to refuse). */
export function idsOf(text) {
  return listOf(text).map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

const dateTime = dateTimeFormat({ dateStyle: "medium", timeStyle: "short" });

/** A <time> with the date and time in the reader's language and zone (UTC in its title). */
export function when(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const date = new Date(iso);
  return h("time", { datetime: iso, title: date.toISOString() }, dateTime.format(date));
}

/** Start an export; resolve with the job (202). */
export function exportStart(body) {
  return archive("exports/", { method: "POST", body });
}

/** The exports page, watching this job. */
export function exportPageUrl(job) {
  return `/console/exports/?watch=${encodeURIComponent(job.id)}`;
}

/** A case's status in words ("open" -> "Open"). */
export function caseStatusLabel(status) {
  return { open: pgettext("case status", "Open"), closed: pgettext("case status", "Closed") }[status]
    || status;
}
