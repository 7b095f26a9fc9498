// <parley-presence user="alice"></parley-presence>: a person's live presence dot, name and
// note, as the signed-in viewer may see them (the server applies the person's privacy
// relationship with the viewer). Any page of this site can include it:
//
//   <script type="module" src="/static/js/parley-presence.js"></script>
//   <parley-presence user="alice"></parley-presence>
//   <parley-presence user="bob" variant="name"></parley-presence>   (dot and name)
//   <parley-presence user="bob" variant="status"></parley-presence> (dot, state and note)
//   <parley-presence user="bob" variant="dot"></parley-presence>    (dot only)
//
// All elements on a page share the page's one /ws/ connection (connection.js), opened on the
// viewer's session cookie; each person is subscribed once (presence.subscribe) and every
// presence.update repaints their elements. Styling lives in css/parley-presence.css inside the
// element's shadow root; a page may restyle the parts "dot", "name" and "note".

import { connection } from "./connection.js";
import { presenceLook } from "./presence-labels.js";

const STYLESHEET = new URL("../css/parley-presence.css", import.meta.url).href;
const VARIANTS = new Set(["full", "name", "status", "dot"]);

export class ParleyPresence extends HTMLElement {
  static observedAttributes = ["user", "variant"];

  constructor() {
    super();
    this.onPresence = (event) => {
      if (event.detail.user === this.username) this.render();
    };
  }

  get username() {
    return (this.getAttribute("user") || "").trim();
  }

  get variant() {
    const value = this.getAttribute("variant") || "full";
    return VARIANTS.has(value) ? value : "full";
  }

  connectedCallback() {
    if (!this.shadowRoot) {
      const root = this.attachShadow({ mode: "open" });
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = STYLESHEET;
      this.dot = document.createElement("span");
      this.dot.setAttribute("part", "dot");
      this.dot.setAttribute("aria-hidden", "true");
      this.nameElement = document.createElement("span");
      this.nameElement.setAttribute("part", "name");
      this.nameElement.className = "name";
      this.stateElement = document.createElement("span");
      this.stateElement.setAttribute("part", "state");
      this.stateElement.className = "state";
      this.noteElement = document.createElement("span");
      this.noteElement.setAttribute("part", "note");
      this.noteElement.className = "note";
      root.append(link, this.dot, this.nameElement, this.stateElement, this.noteElement);
    }
    connection.addEventListener("presence", this.onPresence);
    connection.watch(this.username);
    connection.connect();
    this.render();
  }

  disconnectedCallback() {
    connection.removeEventListener("presence", this.onPresence);
  }

  attributeChangedCallback() {
    if (this.isConnected && this.shadowRoot) {
      connection.watch(this.username);
      this.render();
    }
  }

  /** The projection shown, or undefined before the server has answered. */
  get presence() {
    return connection.presence.get(this.username);
  }

  render() {
    const projection = this.presence;
    const { colour, label } = presenceLook(projection);
    const name = (projection && projection.display_name) || this.getAttribute("name")
      || this.username;
    const note = projection && projection.availability !== "offline" ? projection.note || "" : "";
    this.dataset.availability = projection ? projection.availability : "unknown";
    this.dataset.colour = colour;
    this.dot.className = `dot dot--${colour}`;
    const hasNote = this.variant === "full" || this.variant === "status";
    this.nameElement.textContent = { dot: "", status: label }[this.variant] ?? name;
    this.nameElement.hidden = this.variant === "dot";
    // The full variant says the state in words too ("Busy", "In a meeting"), not colour alone.
    this.stateElement.textContent = this.variant === "full" ? label : "";
    this.stateElement.hidden = this.variant !== "full";
    this.noteElement.textContent = hasNote ? note : "";
    this.noteElement.hidden = !hasNote || !note;
    const description = `${name} — ${label}`;
    this.title = note ? `${description}: ${note}` : description;
    this.setAttribute("aria-label", description);
    this.setAttribute("role", this.variant === "dot" ? "img" : "group");
  }
}

if (!customElements.get("parley-presence")) {
  customElements.define("parley-presence", ParleyPresence);
}
