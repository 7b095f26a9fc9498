// The page's single WebSocket to /ws/, shared by the client and every <parley-presence>.
//
// ES modules are instantiated once per URL, so every script on a page that imports this file
// gets the same connection. It signs in with the session cookie (the browser sends this site's
// Origin, which the server checks), reconnects with exponential back-off after a drop, and
// re-announces what it watches once the server's `hello` arrives again. Listeners decide what
// to resync: the client asks `sync` for every conversation it shows, after a `hello` and after
// a `resync` frame (the server lost live frames, e.g. while Redis restarted, but not the socket).

import { gettext } from "./i18n.js";

// The Parley server is where this file came from (the page embedding <parley-presence> may
// be another page of the site).
const SERVER = new URL(import.meta.url);
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;
const REQUEST_TIMEOUT_MS = 15_000;
// A socket can stay "open" through a network drop: a ping unanswered this long means it is gone.
const HEARTBEAT_EVERY_MS = 20_000;
const HEARTBEAT_TIMEOUT_MS = 8_000;
// Every module script of a page runs before DOMContentLoaded (they are deferred). The socket
// opens only after that: a <parley-presence> upgraded by the page's first module would otherwise
// open it, and the server's `hello` could arrive before the page's other modules listen for it.
let pageScriptsRan = document.readyState === "complete";
const pageScriptsRun = pageScriptsRan
  ? Promise.resolve()
  : new Promise((resolve) => {
      const ran = () => {
        pageScriptsRan = true;
        resolve();
      };
      document.addEventListener("DOMContentLoaded", ran, { once: true });
      window.addEventListener("load", ran, { once: true }); // imported after DOMContentLoaded
    });
// 4401: signed out or session ended; 4403: this page's origin may not use the session.
const FINAL_CLOSE_CODES = new Set([4401, 4403]);

class Connection extends EventTarget {
  constructor() {
    super();
    this.socket = null;
    this.state = "idle"; // idle | connecting | open | closed | signed-out
    this.attempts = 0;
    this.retryTimer = null;
    this.nextRef = 0;
    this.pending = new Map(); // ref -> {resolve, reject, timer}
    this.presence = new Map(); // username -> the latest projection the server sent
    this.watched = new Set(); // usernames to subscribe (contacts are watched by the server)
    this.subscribeQueue = new Set();
    this.me = null; // {username, display_name} from hello
    this.hello = null;
    window.addEventListener("online", () => this.retryNow());
    // The browser knows the network is gone before the socket does: say so and reconnect
    // when it is back.
    window.addEventListener("offline", () => this.drop());
    this.heartbeat = setInterval(() => this.ping(), HEARTBEAT_EVERY_MS);
  }

  /** Ask the server for a pong; a socket that does not answer is dropped (and retried). */
  ping() {
    if (!this.isOpen) return;
    const socket = this.socket;
    this.request({ type: "ping" }, { timeoutMs: HEARTBEAT_TIMEOUT_MS }).catch(() => {
      if (this.socket === socket) this.drop();
    });
  }

  /** Open the socket unless it is open or opening. */
  connect() {
    if (this.socket || this.state === "signed-out") return;
    if (!pageScriptsRan) {
      pageScriptsRun.then(() => this.connect());
      return;
    }
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const scheme = SERVER.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${SERVER.host}/ws/?device=browser`);
    this.socket = socket;
    this.setState("connecting");
    socket.addEventListener("message", (event) => {
      if (this.socket !== socket) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame && typeof frame.type === "string") this.receive(frame);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.failPending(gettext("The connection closed before the server answered."));
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.setState("signed-out", { code: event.code });
        return;
      }
      this.setState("closed", { code: event.code });
      this.scheduleRetry();
    });
  }

  /** Retry at once (the network came back, or the person asked to). */
  retryNow() {
    if (this.state === "closed") {
      this.attempts = 0;
      this.connect();
    }
  }

  scheduleRetry() {
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** this.attempts);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2); // jitter: not all tabs at once
    this.attempts += 1;
    this.retryTimer = setTimeout(() => this.connect(), delay);
    this.dispatchEvent(new CustomEvent("retry", { detail: { delay } }));
  }

  /** Drop the socket as a network failure would (it reconnects with back-off). */
  drop() {
    const socket = this.socket;
    if (!socket) return;
    // Closing a socket whose network is gone can take long to report: treat it as closed now.
    this.socket = null;
    socket.close(4000, "dropped by the page");
    this.failPending(gettext("The connection was lost."));
    this.setState("closed", { code: 4000 });
    this.scheduleRetry();
  }

  setState(state, detail = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, ...detail } }));
  }

  get isOpen() {
    return this.state === "open" && this.socket && this.socket.readyState === WebSocket.OPEN;
  }

  /** Send a frame if the socket is open; return whether it was sent. */
  send(frame) {
    if (!this.isOpen) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** Send a frame with a ref; resolve with the reply carrying it, reject on its error. */
  request(frame, { timeoutMs = REQUEST_TIMEOUT_MS } = {}) {
    return new Promise((resolve, reject) => {
      const ref = `r${++this.nextRef}`;
      if (!this.send({ ...frame, ref })) {
        reject(new Error("Not connected; Parley is reconnecting."));
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new Error("The server did not answer in time."));
      }, timeoutMs);
      this.pending.set(ref, { resolve, reject, timer });
    });
  }

  failPending(reason) {
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new Error(reason));
    }
    this.pending.clear();
  }

  receive(frame) {
    if (frame.type === "hello") {
      this.attempts = 0;
      this.me = frame.user;
      this.hello = frame;
      if (frame.presence) this.presenceStore(frame.presence);
      for (const contact of frame.contacts || []) {
        if (contact.presence) this.presenceStore(contact.presence);
      }
      this.setState("open");
      // Sockets start with only contacts watched: ask again for everyone else shown here.
      for (const username of this.watched) this.subscribeQueue.add(username);
      this.flushSubscriptions();
    } else if (frame.type === "presence.update") {
      this.presenceStore(frame);
    } else if (frame.type === "resync") {
      // Presence changes may have been lost too: subscribing again answers with the current.
      for (const username of this.watched) this.subscribeQueue.add(username);
      this.flushSubscriptions();
    }
    if (frame.ref !== undefined && this.pending.has(frame.ref)) {
      const { resolve, reject, timer } = this.pending.get(frame.ref);
      this.pending.delete(frame.ref);
      clearTimeout(timer);
      if (frame.type === "error") {
        const error = new Error(frame.detail);
        error.code = frame.code;
        // `unavailable` (the database is restarting) and `overloaded` say when to try again.
        if (typeof frame.retry_after_ms === "number") error.retryAfterMs = frame.retry_after_ms;
        reject(error);
      } else {
        resolve(frame);
      }
    }
    this.dispatchEvent(new CustomEvent(frame.type, { detail: frame }));
    this.dispatchEvent(new CustomEvent("frame", { detail: frame }));
  }

  presenceStore(projection) {
    if (!projection.user) return;
    this.presence.set(projection.user, projection);
    this.dispatchEvent(new CustomEvent("presence", { detail: projection }));
  }

  /** Keep the person's presence current on this page (subscribes once per username). */
  watch(username) {
    if (!username || this.watched.has(username)) return;
    this.watched.add(username);
    this.subscribeQueue.add(username);
    // Gather the names of everything rendered in this task into one frame.
    queueMicrotask(() => this.flushSubscriptions());
  }

  flushSubscriptions() {
    if (!this.isOpen || this.subscribeQueue.size === 0) return;
    const users = [...this.subscribeQueue].filter((u) => !this.me || u !== this.me.username);
    this.subscribeQueue.clear();
    for (let start = 0; start < users.length; start += 500) {
      this.send({ type: "presence.subscribe", users: users.slice(start, start + 500) });
    }
  }
}

export const connection = new Connection();
