// Exports: every job with its progress bar (polled while queued or running), cancel, download
// and the manifest summary. ?watch=<id> (after starting one) moves focus to that job.

import { h, replaceChildren } from "../dom.js";
import { format, formatNumber } from "../i18n.js";
import { showError } from "../state.js";
import { archive, when } from "./common.js";

const POLL_MS = 1000;
const list = document.getElementById("export-list");
const empty = document.getElementById("exports-empty");
const error = document.getElementById("exports-error");
const watched = Number(new URLSearchParams(location.search).get("watch")) || null;

const jobs = new Map(); // id -> job
const STATUS_LABELS = {
  queued: pgettext("export", "queued"),
  running: pgettext("export", "running"),
  completed: pgettext("export", "completed"),
  failed: pgettext("export", "failed"),
  cancelled: pgettext("export", "cancelled"),
};
let timer = null;

function isLive(job) {
  return job.status === "queued" || job.status === "running";
}

function percent(job) {
  const { records_done: done, records_total: all } = job.progress;
  if (job.status === "completed") return 100;
  return all ? Math.min(100, Math.floor((done * 100) / all)) : 0;
}

function scopeText(scope) {
  if (!scope) return "";
  if (scope.kind === "case") return format(gettext("Case %(id)s"), { id: scope.case });
  const search = scope.filters || {};
  return Object.entries(search).filter(([, v]) => (Array.isArray(v) ? v.length : v))
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : v}`).join(" · ") || gettext("Search");
}

/** "ko" -> "한국어": the language as the page's language control names it. */
function languageName(code) {
  const option = document.querySelector(`#language-select option[value="${code}"]`);
  return option ? option.textContent : code;
}

function jobItem(job) {
  const value = percent(job);
  const labelId = `export-${job.id}-label`;
  return h("li", { class: "hold", dataset: { export: job.id, status: job.status } },
    h("h2", { id: labelId, tabindex: "-1" },
      format(gettext("Export %(id)s"), { id: job.id }), ` · ${job.format.toUpperCase()} · `,
      h("span", { class: `export-status ${job.status === "failed" ? "status-bad" : ""}` },
        STATUS_LABELS[job.status] || job.status)),
    h("progress", { max: "100", value: String(value), "aria-labelledby": labelId }),
    h("p", { class: "export-progress" }, format(gettext("%(percent)s · %(done)s of %(total)s records"), {
      percent: `${value}%`, done: formatNumber(job.progress.records_done),
      total: job.progress.records_total === null || job.progress.records_total === undefined
        ? "?" : formatNumber(job.progress.records_total),
    })),
    h("dl", { class: "kv" },
      h("dt", {}, gettext("Scope")), h("dd", {}, scopeText(job.scope)),
      job.language ? [h("dt", {}, gettext("Transcript language")), h("dd", {}, languageName(job.language))]
        : null,
      h("dt", {}, gettext("Requested")), h("dd", {}, job.requested_by, ", ", when(job.created_at)),
      job.finished_at ? [h("dt", {}, gettext("Finished")), h("dd", {}, when(job.finished_at))] : null,
      job.status === "completed" ? [
        h("dt", {}, gettext("Manifest")),
        h("dd", { class: "manifest" }, format(
          ngettext("%(files)s file · %(records)s records · SHA-256 %(sha)s",
            "%(files)s files · %(records)s records · SHA-256 %(sha)s", job.files),
          { files: formatNumber(job.files), records: formatNumber(job.progress.records_done),
            sha: job.manifest_sha256 || "—" }))] : null,
      job.error ? [h("dt", {}, gettext("Error")), h("dd", { class: "error" }, job.error)] : null),
    h("div", { class: "button-row" },
      job.download ? h("a", { class: "button", href: job.download },
        format(gettext("Download export %(id)s"), { id: job.id }))
        : null,
      isLive(job) ? h("button", {
        type: "button", class: "danger", onclick: () => cancel(job),
      }, format(gettext("Cancel export %(id)s"), { id: job.id })) : null));
}

function render() {
  const items = [...jobs.values()].sort((a, b) => b.id - a.id);
  for (const job of items) {
    const existing = list.querySelector(`[data-export="${job.id}"]`);
    const focused = existing && existing.contains(document.activeElement);
    const element = jobItem(job);
    if (existing) existing.replaceWith(element);
    if (focused) element.querySelector("h2").focus();
  }
  if (!list.children.length || list.children.length !== items.length) {
    replaceChildren(list, items.map(jobItem));
  }
  empty.hidden = jobs.size > 0;
}

async function cancel(job) {
  try {
    jobs.set(job.id, await archive(`exports/${job.id}/cancel/`, { method: "POST" }));
    render();
  } catch (failure) {
    showError(error, failure.message);
  }
}

async function poll() {
  clearTimeout(timer);
  const live = [...jobs.values()].filter(isLive);
  try {
    for (const job of live) jobs.set(job.id, await archive(`exports/${job.id}/`));
    if (live.length) render();
  } catch (failure) {
    showError(error, failure.message);
  }
  if ([...jobs.values()].some(isLive)) timer = setTimeout(poll, POLL_MS);
}

async function load() {
  try {
    const { results } = await archive("exports/");
    for (const job of results) jobs.set(job.id, job);
    render();
    if (watched) list.querySelector(`[data-export="${watched}"] h2`)?.focus();
    poll();
  } catch (failure) {
    showError(error, failure.message);
  }
}

load();

document.body.dataset.ready = "true"; // the page's handlers are in place (tests wait for it)
