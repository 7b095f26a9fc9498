// Distribution groups in the contact list: directory groups I added, each expanded by the
// server to its current members, shown with live presence (<parley-presence>). The server
// moves my socket's watches when a directory sync changes a group; a presence frame about
// someone not shown, or an unsubscribe, means the membership changed, so the list reloads.

import { api } from "./api.js";
import { connection } from "./connection.js";
import { h, replaceChildren } from "./dom.js";
import "./parley-presence.js";
import { showError } from "./state.js";
import { format, gettext } from "./i18n.js";

const groupsElement = document.getElementById("distribution-groups");
const form = document.getElementById("distribution-form");
const nameInput = document.getElementById("distribution-name");
const error = document.getElementById("distribution-error");

let shown = new Set(); // usernames listed in some group
let reloadTimer = null;

function render(groups) {
  shown = new Set(groups.flatMap((group) => group.members.map((m) => m.username)));
  replaceChildren(groupsElement, groups.map((group) => {
    const headingId = `distribution-${group.name.replace(/\W+/g, "-")}`;
    return h("section", { class: "contact-group", "aria-labelledby": headingId },
      h("h3", { id: headingId }, group.name,
        h("button", {
          type: "button", class: "icon-button",
          "aria-label": format(gettext("Remove %(name)s"), { name: group.name }),
          title: gettext("Remove from my contacts"), onclick: () => remove(group.name),
        }, "×")),
      h("ul", { class: "people-list" }, group.members.map((member) =>
        h("li", { class: "person", dataset: { username: member.username } },
          h("parley-presence", { user: member.username, name: member.display_name })))));
  }));
}

async function load() {
  try {
    const data = await api("contact-groups/");
    for (const group of data.results) {
      for (const member of group.members) connection.presenceStore(member.presence);
    }
    render(data.results);
  } catch (failure) {
    showError(error, failure.message);
  }
}

function reloadSoon() {
  window.clearTimeout(reloadTimer);
  reloadTimer = window.setTimeout(load, 300);
}

async function remove(name) {
  try {
    await api(`contact-groups/${encodeURIComponent(name)}/`, { method: "DELETE" });
    await load();
  } catch (failure) {
    showError(error, failure.message);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = nameInput.value.trim();
  if (!name) return;
  try {
    await api("contact-groups/", { method: "POST", body: { group: name } });
    nameInput.value = "";
    showError(error, "");
    await load();
  } catch (failure) {
    showError(error, failure.message);
  }
});

connection.addEventListener("hello", load);
connection.addEventListener("presence.update", (event) => {
  if (event.detail.via === "distribution_group") reloadSoon();
});
connection.addEventListener("presence.unsubscribed", (event) => {
  if ((event.detail.users || []).some((user) => shown.has(user))) reloadSoon();
});
