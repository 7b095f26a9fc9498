// The presence picker: built-in states, the administrators' custom states, note, location,
// and an expiry ("busy for 1 hour").

import { api } from "./api.js";
import { connection } from "./connection.js";
import { h, replaceChildren } from "./dom.js";
import { availabilityColour, availabilityLabel, customStateLabel } from "./presence-labels.js";
import { dialogOpen, showError, state } from "./state.js";

const dialog = document.getElementById("presence-dialog");
const form = document.getElementById("presence-form");
const options = document.getElementById("presence-options");
const expiry = document.getElementById("presence-expiry");
const note = document.getElementById("presence-note");
const locationInput = document.getElementById("presence-location");
const error = document.getElementById("presence-error");
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
    option("", "Automatic (from my activity)", "available"),
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
    showError(error, `Could not load the states: ${failure.message}`);
  }
  const mine = connection.presence.get(state.me) || {};
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

document.getElementById("presence-button").addEventListener("click", open);
