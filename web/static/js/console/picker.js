// Search-as-you-type pickers for the console's forms: people and archived conversations are
// chosen by name (chips), never typed as ids. What is still typed in the box when the form is
// read counts too (usernames, or ids for those who have them), so nothing typed is lost.

import { h, replaceChildren } from "../dom.js";
import { archive, listOf } from "./common.js";

const SOURCES = {
  people: {
    path: "people/",
    key: (item) => item.username,
    label: (item) => (item.is_active
      ? `${item.display_name} (${item.username})`
      : interpolate(gettext("%(name)s (%(username)s), left"),
        { name: item.display_name, username: item.username }, true)),
  },
  conversations: {
    path: "conversations/",
    key: (item) => item.id,
    label: (item) => item.name,
  },
};

/** Turn a text input into a picker; return {values(), clear()}. */
export function picker(input, kind) {
  const source = SOURCES[kind];
  const chosen = new Map(); // key -> label
  const chips = h("ul", { class: "picker-chips plain-list", "aria-label": gettext("Chosen") });
  const listId = `${input.id}-suggestions`;
  const list = h("ul", { id: listId, class: "picker-suggestions plain-list", role: "listbox", hidden: true });
  input.setAttribute("role", "combobox");
  input.setAttribute("aria-autocomplete", "list");
  input.setAttribute("aria-controls", listId);
  input.setAttribute("aria-expanded", "false");
  input.placeholder = kind === "people" ? gettext("type a name")
    : gettext("type a room or a person's name");
  input.after(list);
  input.after(chips);

  function renderChips() {
    replaceChildren(chips, [...chosen].map(([key, label]) => h("li", { class: "picker-chip" },
      label,
      h("button", {
        type: "button", class: "link-button", "aria-label": interpolate(gettext("Remove %(label)s"), { label }, true),
        onclick: () => { chosen.delete(key); renderChips(); },
      }, "×"))));
  }

  function choose(item) {
    chosen.set(source.key(item), source.label(item));
    input.value = "";
    list.hidden = true;
    input.setAttribute("aria-expanded", "false");
    renderChips();
    input.focus();
  }

  let pending = 0;
  async function suggest() {
    const text = input.value.trim();
    const ticket = ++pending;
    if (!text) {
      list.hidden = true;
      return;
    }
    try {
      const page = await archive(source.path, { params: { q: text } });
      if (ticket !== pending) return; // a later keystroke asked again
      replaceChildren(list, page.results.map((item) => h("li", {
        role: "option", class: "picker-option", tabindex: "-1",
        onmousedown: (event) => { event.preventDefault(); choose(item); },
        onkeydown: (event) => { if (event.key === "Enter") { event.preventDefault(); choose(item); } },
      }, source.label(item))));
      list.hidden = page.results.length === 0;
      input.setAttribute("aria-expanded", String(!list.hidden));
    } catch {
      list.hidden = true;
    }
  }

  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(suggest, 150);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && !list.hidden) {
      event.preventDefault();
      list.firstElementChild?.focus();
    } else if (event.key === "Escape") {
      list.hidden = true;
    }
  });
  input.addEventListener("blur", () => setTimeout(() => { list.hidden = true; }, 200));

  return {
    values() {
      const typed = listOf(input.value).map((part) =>
        (kind === "conversations" && /^\d+$/.test(part) ? Number(part) : part));
      return [...new Set([...chosen.keys(), ...typed])];
    },
    clear() {
      chosen.clear();
      input.value = "";
      renderChips();
    },
  };
}
