// The presence picker, in every page's bar: built-in states, the administrators' custom
// states, note, location, an expiry ("busy for 1 hour"), and my photo. It also tells the
// server my time zone (contact cards show people's local time).

import { api, apiUpload } from "./api.js";
import { connection } from "./connection.js";
import { avatar, h, replaceChildren } from "./dom.js";
import { gettext } from "./i18n.js";
import "./parley-presence.js";
import { availabilityColour, availabilityLabel, customStateLabel } from "./presence-labels.js";
import { dialogOpen, showError, state } from "./state.js";

const dialog = document.getElementById("presence-dialog");
const form = document.getElementById("presence-form");
const options = document.getElementById("presence-options");
const expiry = document.getElementById("presence-expiry");
const note = document.getElementById("presence-note");
const locationInput = document.getElementById("presence-location");
const error = document.getElementById("presence-error");
const photoInput = document.getElementById("presence-photo");
const photoPreview = document.getElementById("presence-photo-preview");
const photoRemove = document.getElementById("presence-photo-remove");
let statesLoaded = null;

function option(value, label, colour) {
  const id = `presence-option-${value.replace(/[^a-z0-9-]/gi, "-")}`;
  return h("div", { class: "presence-option" },
    h("input", { type: "radio", name: "state", id, value }),
    h("label", { for: id },
      h("span", { class: `dot dot--${colour}`, "aria-hidden": "true" }), label));
}

async function loadStates() {
  const states = await api("presence/states/");
  replaceChildren(options,
    option("", gettext("Automatic (from my activity)"), "available"),
    states.availability.map((value) => option(value, availabilityLabel(value),
      availabilityColour(value))),
    states.custom.map((custom) => option(`custom:${custom.id}`, customStateLabel(custom),
      availabilityColour(custom.colour_class))));
}

async function open() {
  showError(error, "");
  statesLoaded = statesLoaded || loadStates();
  try {
    await statesLoaded;
  } catch (failure) {
    statesLoaded = null;
    showError(error, `${gettext("Could not load the states:")} ${failure.message}`);
  }
  let mine = connection.presence.get(state.me);
  if (!mine) {
    try {
      mine = await api("presence/");
      connection.presenceStore(mine);
    } catch {
      mine = {};
    }
  }
  photoShow(mine);
  const current = mine.custom_state ? `custom:${mine.custom_state.id}`
    : mine.manual_availability || "";
  for (const radio of options.querySelectorAll("input[type=radio]")) {
    radio.checked = radio.value === current;
  }
  note.value = mine.note || "";
  locationInput.value = mine.location || "";
  expiry.value = "";
  dialogOpen(dialog);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const chosen = form.querySelector("input[name=state]:checked");
  const value = chosen ? chosen.value : "";
  const body = { note: note.value, location: locationInput.value };
  if (value.startsWith("custom:")) {
    body.custom_state = Number(value.slice(7));
  } else {
    body.availability = value;
  }
  if (value) body.expires_in_minutes = expiry.value ? Number(expiry.value) : null;
  try {
    const own = await api("presence/", { method: "PUT", body });
    connection.presenceStore(own);
    dialog.close();
  } catch (failure) {
    showError(error, failure.message);
  }
});

function photoShow(mine) {
  replaceChildren(photoPreview, avatar({ name: mine.display_name || state.me, photo: mine.photo }));
  photoRemove.hidden = !mine.photo;
}

photoInput.addEventListener("change", async () => {
  const file = photoInput.files[0];
  if (!file) return;
  showError(error, "");
  try {
    const own = await apiUpload("me/photo/", file, { method: "PUT" });
    connection.presenceStore(own);
    photoShow(own);
  } catch (failure) {
    showError(error, failure.message);
  } finally {
    photoInput.value = "";
  }
});

photoRemove.addEventListener("click", async () => {
  try {
    await api("me/photo/", { method: "DELETE" });
    const own = await api("presence/");
    connection.presenceStore(own);
    photoShow(own);
  } catch (failure) {
    showError(error, failure.message);
  }
});

// Tell the server my time zone when it has none yet (one set through the API stays).
connection.addEventListener("hello", (event) => {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const own = event.detail.presence || {};
  if (zone && own.time_zone === "") {
    api("me/", { method: "PATCH", body: { time_zone: zone } }).catch(() => {});
  }
}, { once: true });

document.getElementById("presence-button").addEventListener("click", open);
