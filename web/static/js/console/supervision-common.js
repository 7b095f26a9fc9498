// Helpers shared by the supervision review pages: every call goes to /api/v1/supervision/...,
// which refuses anyone outside the Supervision group and shows reviewers only their policies.

import { api } from "../api.js";

/** Call /api/v1/supervision/<path>. */
export function supervision(path, options) {
  return api(`supervision/${path}`, options);
}

/** The page's words, translated by the server (the hidden list "supervision-strings"). */
export const words = Object.fromEntries([...document.querySelectorAll("#supervision-strings li")]
  .map((item) => [item.dataset.key, item.textContent]));

/** A word by key, the key itself when the server gave none. */
export function word(key) {
  return words[key] || key;
}
