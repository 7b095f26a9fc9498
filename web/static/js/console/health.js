// Archive health: the search index's capture lag (/archive/health/) and a verification run
// (/archive/verify/: every hash chain and the audit trail).

import { api } from "../api.js";
import { h, replaceChildren } from "../dom.js";
import { archive } from "./common.js";

const lag = document.getElementById("lag");
const verifyButton = document.getElementById("verify-run");
const verifyStatus = document.getElementById("verify-status");
const report = document.getElementById("verify-report");

function pairs(entries) {
  return entries.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]);
}

async function lagLoad() {
  try {
    const health = await archive("health/");
    replaceChildren(lag, pairs([
      ["Backend", health.backend],
      ["Capture lag", `${health.capture_lag_seconds} s`],
      ["Records waiting for the index", String(health.pending)],
      ["Oldest waiting since", health.oldest_pending_at
        ? new Date(health.oldest_pending_at).toLocaleString() : "—"],
    ]));
  } catch (failure) {
    replaceChildren(lag, pairs([["Capture lag", failure.status === 404
      ? "Not available on this server yet." : failure.message]]));
  }
}

verifyButton.addEventListener("click", async () => {
  verifyButton.disabled = true;
  verifyStatus.textContent = "Verifying…";
  try {
    const result = await api("archive/verify/");
    verifyStatus.replaceChildren(h("span", { class: result.intact ? "status-good" : "status-bad" },
      result.intact ? "Intact: every chain and the audit trail verify."
        : "Broken: see the problems below."));
    const { archive: chains, audit } = result;
    replaceChildren(report,
      h("dl", { class: "kv" }, pairs([
        ["Chains", String(chains.chains)], ["Records", String(chains.records)],
        ["Purges", String(chains.purges)],
        ["Audit entries", `${audit.entries} (${audit.intact ? "intact" : `broken at ${audit.broken_at}: ${audit.reason}`})`],
        ["Checked", new Date().toLocaleString()],
      ])),
      chains.broken.length || chains.anchor_problems.length
        ? h("ul", { class: "error" },
          chains.broken.map((b) => h("li", {},
            `Conversation ${b.conversation}, link ${b.link} (record ${b.record}): ${b.reason}`)),
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
