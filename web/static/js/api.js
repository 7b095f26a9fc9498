// The REST API with the browser session: JSON in and out, Django's CSRF token on writes.

import { format, gettext } from "./i18n.js";

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

const GET_ATTEMPTS = 4;

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail);
    this.status = status;
    this.code = code;
  }
}

/** Call /api/v1/<path>; resolve with the JSON body, reject with an ApiError naming the fix. */
export async function api(path, { method = "GET", body, params } = {}) {
  const url = new URL(`/api/v1/${path}`, location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    headers["X-CSRFToken"] = csrfToken();
  }
  for (let attempt = 1; ; attempt += 1) {
    const response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    // 503 `unavailable`: the database is restarting. A read is safe to repeat after the
    // Retry-After the server gives; a write is left to its caller (client_id makes it safe).
    if (response.status === 503 && method === "GET" && attempt < GET_ATTEMPTS) {
      const seconds = Number(response.headers.get("Retry-After")) || 1;
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000 * (1 + Math.random() / 2)));
      continue;
    }
    if (response.status === 204) return null;
    return answer(response);
  }
}

/** POST a file as multipart field `file` to /api/v1/<path>; same answers as api(). */
export async function apiUpload(path, file, { method = "POST" } = {}) {
  const form = new FormData();
  form.append("file", file, file.name);
  const response = await fetch(new URL(`/api/v1/${path}`, location.origin), {
    method,
    headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
    credentials: "same-origin",
    body: form,
  });
  return answer(response, { 413: gettext("The file is too large.") });
}

/**
 * Resolve with a response's JSON body (null when it has none); reject with an ApiError whose
 * message is the API's detail, else `fallbacks[status]`, else the bare status.
 */
async function answer(response, fallbacks = {}) {
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || "http_" + response.status,
      error.detail || fallbacks[response.status]
        || format(gettext("The server answered %(status)s."), { status: response.status }));
  }
  return data;
}
