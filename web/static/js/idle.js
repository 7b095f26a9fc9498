// Idle detection: after the configured time without keyboard, pointer or touch input the
// page reports `idle {idle: true}` (the server then turns the person inactive, then away);
// the next input reports `idle {idle: false}`. A new socket starts active, so after a
// reconnect an idle page says so again.

import { connection } from "./connection.js";

const idleAfterMs = Number(document.body.dataset.idleSeconds || 300) * 1000;
const checkEveryMs = Math.min(5000, Math.max(250, idleAfterMs / 4));
let lastInputAt = Date.now();
let isIdle = false;

function report(idle) {
  isIdle = idle;
  connection.send({ type: "idle", idle });
}

function onInput() {
  lastInputAt = Date.now();
  if (isIdle) report(false);
}

for (const type of ["keydown", "pointerdown", "pointermove", "wheel", "touchstart"]) {
  window.addEventListener(type, onInput, { passive: true, capture: true });
}

window.setInterval(() => {
  if (!isIdle && Date.now() - lastInputAt >= idleAfterMs) report(true);
}, checkEveryMs);

connection.addEventListener("hello", () => {
  if (isIdle) report(true);
});
