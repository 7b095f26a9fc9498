// A direct or group conversation that an information barrier closed for posting shows why in
// place of the composer (the server refuses posts there anyway), and gets its composer back
// when it is reopened. Imported after room-panel.js, which resets the composer first.
import { connection } from "./connection.js";
import { current } from "./conversations.js";

const composer = document.getElementById("composer");
const attachButton = document.getElementById("attach-button");
const note = document.getElementById("closed-note");

function update(conversation) {
  if (!conversation || conversation.kind === "room") {
    note.hidden = true;
    return;
  }
  const reason = conversation.posting_closed || "";
  note.textContent = reason;
  note.hidden = !reason;
  composer.hidden = Boolean(reason);
  attachButton.hidden = Boolean(reason);
}

document.addEventListener("parley:conversation-shown", (event) => update(event.detail));
connection.addEventListener("conversation.updated", () => update(current()));
