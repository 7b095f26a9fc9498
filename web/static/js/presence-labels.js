// What a presence projection looks like: the Lync colour of its dot and the words for it (in
// the page's language: 대화 가능, 다른 용무 중...; 有空, 忙碌...).

import { gettext, pgettext } from "./i18n.js";

const AVAILABILITY_LABELS = {
  available: pgettext("presence", "Available"),
  busy: pgettext("presence", "Busy"),
  "do-not-disturb": pgettext("presence", "Do not disturb"),
  "be-right-back": pgettext("presence", "Be right back"),
  away: pgettext("presence", "Away"),
  "off-work": pgettext("presence", "Off work"),
  offline: pgettext("presence", "Offline"),
  "appear-offline": pgettext("presence", "Appear offline"),
};
const ACTIVITY_LABELS = {
  "in-a-meeting": pgettext("presence", "In a meeting"),
  "in-a-call": pgettext("presence", "In a call"),
  "out-of-office": pgettext("presence", "Out of office"),
};
// The dot's colour class: green, yellow, red, red with a bar, grey.
const COLOURS = {
  available: "available",
  busy: "busy",
  "do-not-disturb": "dnd",
  "be-right-back": "away",
  away: "away",
  "off-work": "away",
  offline: "offline",
  "appear-offline": "offline",
};

/** Return the dot's colour class for an availability (or a custom state's colour_class). */
export function availabilityColour(value) {
  return COLOURS[value] || "offline";
}

export function availabilityLabel(value) {
  return AVAILABILITY_LABELS[value] || value;
}

export function activityLabel(value) {
  return ACTIVITY_LABELS[value] || value;
}

/** Return a custom state's label in the page's language when the admin translated it. */
export function customStateLabel(state) {
  const translations = state.translations || {};
  const language = (document.documentElement.lang || navigator.language || "en").toLowerCase();
  // Traditional Chinese may be keyed zh-hant, zh-tw or zh-hk by the administrator.
  const keys = language === "zh-hant" ? ["zh-hant", "zh-Hant", "zh-tw", "zh-TW", "zh-hk", "zh"]
    : [language, language.split("-")[0]];
  const found = keys.find((key) => translations[key]);
  return found ? translations[found] : state.label;
}

/** Return {colour, label, meeting} for a projection (unknown people show as offline);
 * meeting is the subject and place of the meeting the person is in, when the viewer may see
 * them. */
export function presenceLook(projection) {
  if (!projection || !projection.availability) {
    return { colour: "offline", label: availabilityLabel("offline"), meeting: "" };
  }
  const availability = projection.availability;
  let colour = availabilityColour(availability);
  let label = availabilityLabel(availability);
  let meeting = "";
  if (projection.manual_availability === "appear-offline") {
    label = availabilityLabel("appear-offline"); // only the person sees this of themselves
  } else if (projection.custom_state) {
    label = customStateLabel(projection.custom_state);
  } else if (projection.activity && availability !== "offline") {
    label = activityLabel(projection.activity);
    // The meeting's subject and place reach only the workgroup level (and the person).
    const place = projection.meeting_place ? `(${projection.meeting_place})` : "";
    meeting = [projection.meeting_subject, place].filter(Boolean).join(" ");
    if (meeting) label = `${label}: ${meeting}`;
  } else if (availability === "available" && projection.is_idle) {
    colour = "away";
    label = gettext("Inactive");
  }
  return { colour, label, meeting };
}
