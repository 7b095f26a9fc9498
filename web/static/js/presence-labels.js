// What a presence projection looks like: the Lync colour of its dot and the words for it.

const AVAILABILITY_LABELS = {
  available: "Available",
  busy: "Busy",
  "do-not-disturb": "Do not disturb",
  "be-right-back": "Be right back",
  away: "Away",
  "off-work": "Off work",
  offline: "Offline",
  "appear-offline": "Appear offline",
};
const ACTIVITY_LABELS = {
  "in-a-meeting": "In a meeting",
  "in-a-call": "In a call",
  "out-of-office": "Out of office",
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
  return translations[language] || translations[language.split("-")[0]] || state.label;
}

/** Return {colour, label, meeting} for a projection (unknown people show as offline);
 * meeting is the subject and place of the meeting the person is in, when the viewer may see
 * them. */
export function presenceLook(projection) {
  if (!projection || !projection.availability) {
    return { colour: "offline", label: "Offline", meeting: "" };
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
    label = "Inactive";
  }
  return { colour, label, meeting };
}
