// Desktop notifications for new messages while the page is hidden, once the person allowed
// them. Do not disturb holds them back, except from people I put in my workgroup (who may
// interrupt me, as in Lync).

import { connection } from "./connection.js";
import { format, gettext } from "./i18n.js";
import { state } from "./state.js";

const panel = document.getElementById("notifications-panel");
const enableButton = document.getElementById("notifications-enable");
const isSupported = "Notification" in window;

function refresh() {
  if (panel) panel.hidden = !isSupported || Notification.permission !== "default";
}

if (enableButton) {
  enableButton.addEventListener("click", async () => {
    await Notification.requestPermission();
    refresh();
  });
}
refresh();

function mayInterrupt(username) {
  const mine = connection.presence.get(state.me);
  if (!mine || mine.availability !== "do-not-disturb") return true;
  const contact = state.contacts.get(username);
  return Boolean(contact && contact.relationship === "workgroup");
}

/** Show a notification for a message from someone else, if allowed and the page is hidden. */
export function notifyMessage(conversation, message, title) {
  if (!isSupported || Notification.permission !== "granted" || !document.hidden) return;
  if (!mayInterrupt(message.sender.username)) return;
  const sender = message.sender.display_name;
  const isMention = conversation.kind !== "direct"
    && (message.mentions || []).includes(state.me);
  const heading = isMention
    ? format(gettext("%(name)s mentioned you in %(title)s"), { name: sender, title })
    : conversation.kind === "direct" ? sender : title;
  const notification = new Notification(heading, {
    body: conversation.kind === "direct" ? message.body : `${sender}: ${message.body}`,
    tag: `parley-conversation-${conversation.id}`,
  });
  notification.addEventListener("click", () => {
    window.focus();
    document.dispatchEvent(new CustomEvent("parley:open-conversation",
      { detail: { id: conversation.id } }));
    notification.close();
  });
}
