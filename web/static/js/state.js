// What the client knows, shared by its modules.

export const state = {
  me: document.body.dataset.user || "",
  contacts: new Map(), // username -> {username, group, relationship, presence}
  conversations: new Map(), // id -> conversation (see conversations.js)
  currentId: null, // the conversation shown
};

/** Show a message in an error line (hidden when empty). */
export function showError(element, text) {
  element.textContent = text || "";
  element.hidden = !text;
}

/** Open a <dialog> as a modal, remembering what had focus to give it back on close. */
export function dialogOpen(dialog) {
  const opener = document.activeElement;
  dialog.addEventListener("close", () => {
    if (opener && opener.isConnected) opener.focus();
  }, { once: true });
  dialog.showModal();
}

// Cancel buttons of every dialog; Escape closes dialogs natively.
for (const button of document.querySelectorAll("dialog [data-close]")) {
  button.addEventListener("click", () => button.closest("dialog").close());
}
