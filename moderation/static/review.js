// The moderation queue's keyboard: j/k move between rows, a/r/s/n decide, x ticks; and the "Tick all" box.
// A static file rather than inline script, so the Content-Security-Policy can forbid inline script.
"use strict";

const rows = Array.from(document.querySelectorAll("tr.queue-row"));
const actionKeys = {a: "approve", r: "reject", s: "spam", n: "not-spam"};

function move(step) {
  const at = rows.indexOf(document.activeElement);
  const next = rows[Math.min(Math.max(at + step, 0), rows.length - 1)];
  if (next) next.focus();
}

function pressButton(row, action) {
  const button = row.querySelector('button[data-action="' + action + '"]');
  if (button) button.click();
}

// Returns false for a key the queue does not use, so the browser keeps its default for it.
function handleKey(key, row) {
  if (key === "j") move(row ? 1 : 0);
  else if (key === "k") move(-1);
  else if (row && key === "x") row.querySelector("input[name=ids]").click();
  else if (row && actionKeys[key]) pressButton(row, actionKeys[key]);
  else return false;
  return true;
}

document.addEventListener("keydown", function (event) {
  // Shortcuts with modifiers belong to the browser, and typing in a field must stay typing.
  if (event.ctrlKey || event.metaKey || event.altKey || /INPUT|SELECT|TEXTAREA/.test(event.target.tagName)) return;
  const row = rows.includes(document.activeElement) ? document.activeElement : null;
  if (handleKey(event.key, row)) event.preventDefault();
});

const tickAll = document.getElementById("tick-all");
if (tickAll) {
  tickAll.addEventListener("click", function () {
    document.querySelectorAll("input[name=ids]").forEach(function (box) { box.checked = tickAll.checked; });
  });
}
