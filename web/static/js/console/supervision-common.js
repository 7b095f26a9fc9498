// Helpers shared by the supervision review pages: every call goes to /api/v1/supervision/...,
// which refuses anyone outside the Supervision group and shows reviewers only their policies.

import { api } from "../api.js";

/** Call /api/v1/supervision/<path>. */
export function supervision(path, options) {
  return api(`supervision/${path}`, options);
}

/** The page's words, translated by the server (json_script "supervision-strings"). */
export const words = JSON.parse(document.getElementById("supervision-strings").textContent);

/** A word by key, the key itself when the server gave none. */
export function word(key) {
  return words[key] || key;
}
