// Archive health: the search index's capture lag (/archive/health/) and a verification run
// (/archive/verify/: every hash chain and the audit trail).

import { api } from "../api.js";
import { h, replaceChildren } from "../dom.js";
import { dateTimeFormat, format, formatNumber } from "../i18n.js";
import { archive } from "./common.js";

const lag = document.getElementById("lag");
const verifyButton = document.getElementById("verify-run");
const verifyStatus = document.getElementById("verify-status");
const report = document.getElementById("verify-report");

const dateTime = dateTimeFormat({ dateStyle: "medium", timeStyle: "medium" });

function pairs(entries) {
  return entries.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]);
}

async function lagLoad() {
  try {
    const health = await archive("health/");
    replaceChildren(lag, pairs([
      [gettext("Backend"), health.backend],
      [gettext("Capture lag"), format(gettext("%(seconds)s s"),
        { seconds: formatNumber(health.capture_lag_seconds) })],
      [gettext("Records waiting for the index"), formatNumber(health.pending)],
      [gettext("Oldest waiting since"), health.oldest_pending_at
        ? dateTime.format(new Date(health.oldest_pending_at)) : "—"],
    ]));
  } catch (failure) {
    replaceChildren(lag, pairs([[gettext("Capture lag"), failure.status === 404
      ? gettext("Not available on this server yet.") : failure.message]]));
  }
}

verifyButton.addEventListener("click", async () => {
  verifyButton.disabled = true;
  verifyStatus.textContent = gettext("Verifying…");
  try {
    const result = await api("archive/verify/");
    verifyStatus.replaceChildren(h("span", { class: result.intact ? "status-good" : "status-bad" },
      result.intact ? gettext("Intact: every chain and the audit trail verify.")
        : gettext("Broken: see the problems below.")));
    const { archive: chains, audit } = result;
    replaceChildren(report,
      h("dl", { class: "kv" }, pairs([
        [gettext("Chains"), formatNumber(chains.chains)],
        [gettext("Records"), formatNumber(chains.records)],
        [gettext("Purges"), formatNumber(chains.purges)],
        [gettext("Audit entries"), audit.intact
          ? format(gettext("%(count)s (intact)"), { count: formatNumber(audit.entries) })
          : format(gettext("%(count)s (broken at %(at)s: %(reason)s)"),
            { count: formatNumber(audit.entries), at: audit.broken_at, reason: audit.reason })],
        [gettext("Checked"), dateTime.format(new Date())],
      ])),
      chains.broken.length || chains.anchor_problems.length
        ? h("ul", { class: "error" },
          chains.broken.map((b) => h("li", {},
            format(gettext("Conversation %(conversation)s, link %(link)s (record %(record)s): %(reason)s"),
              { conversation: b.conversation, link: b.link, record: b.record, reason: b.reason }))),
          chains.anchor_problems.map((problem) => h("li", {}, String(problem))))
        : null);
  } catch (failure) {
    verifyStatus.textContent = failure.message;
  } finally {
    verifyButton.disabled = false;
  }
});

lagLoad();

document.body.dataset.ready = "true"; // the page's handlers are in place (tests wait for it)
