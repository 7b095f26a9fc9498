// Building DOM without innerHTML: every text goes in through textContent, so nothing a person
// typed is ever parsed as HTML.

import { dateTimeFormat } from "./i18n.js";

/**
 * Create an element: h("button", {class: "x", type: "button", onclick: fn}, "Send", child).
 * Attributes named on* become event listeners; `hidden`/`disabled` booleans are properties.
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) {
      // Only functions: an on* attribute string would be inline code (and CSP refuses it).
      if (typeof value !== "function") throw new TypeError(`${name} must be a function`);
      element.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      element.className = value;
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(name, "");
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function replaceChildren(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** Return "AM" for "Alice Martin", "B" for "bob". */
export function initials(name) {
  const words = String(name || "?").trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : words.slice(0, 1);
  return letters.map((word) => Array.from(word)[0].toUpperCase()).join("") || "?";
}

/** A photo, or the person's initials when there is none (or it fails to load). */
export function avatar({ name, photo }) {
  const fallback = h("span", { class: "avatar avatar--initials", "aria-hidden": "true" },
    initials(name));
  if (!photo) return fallback;
  const image = h("img", { class: "avatar", src: photo, alt: "", loading: "lazy" });
  image.addEventListener("error", () => image.replaceWith(fallback), { once: true });
  return image;
}

// In the reader's language and time zone (i18n.js).
const timeFormat = dateTimeFormat({ hour: "2-digit", minute: "2-digit" });
const shortFormat = dateTimeFormat({
  month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
});
const longFormat = dateTimeFormat({ dateStyle: "full", timeStyle: "medium" });
const dayKey = dateTimeFormat({ year: "numeric", month: "2-digit", day: "2-digit" });

/** A <time> element: the time today, the date and time otherwise. */
export function timeElement(iso) {
  if (!iso) return h("time");
  const date = new Date(iso);
  const isToday = dayKey.format(date) === dayKey.format(new Date());
  return h("time", { datetime: iso, title: longFormat.format(date) },
    (isToday ? timeFormat : shortFormat).format(date));
}
