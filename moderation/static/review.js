// The moderation queue's keyboard and its decisions without page loads.
// j/k move between rows, a/r/s/n/t decide, e opens the comment, x ticks, u undoes, / searches, ? lists the keys.
// Without this script every button is a plain form that posts and comes back: the queue works the same, slower.
// A static file rather than inline script, so the Content-Security-Policy can forbid inline script.
"use strict";

let rows = Array.from(document.querySelectorAll("tr.queue-row"));
const actionKeys = {a: "approve", r: "reject", s: "spam", n: "not-spam", t: "trash"};
const shortcuts = document.getElementById("shortcuts");
let undoAddress = null;

function move(step) {
  const at = rows.indexOf(document.activeElement);
  const next = rows[Math.min(Math.max(at + step, 0), rows.length - 1)];
  if (next) next.focus();
}

function pressButton(row, action) {
  const button = row.querySelector('button[data-action="' + action + '"]');
  if (button) button.click();
}

function openComment(row) {
  const link = row.querySelector("a[data-open]");
  if (link) window.location.href = link.href;
}

function focusSearch() {
  const search = document.getElementById("search");
  if (search) search.focus();
}

// Undo is a plain form post: the page comes back with the comments restored and says what was undone.
function undoLast() {
  let form = document.getElementById("undo-form");
  if (undoAddress) {
    form = document.createElement("form");
    form.method = "post";
    form.action = undoAddress;
    [["csrf_token", document.querySelector("input[name=csrf_token]").value],
     ["next", window.location.pathname + window.location.search]].forEach(function (pair) {
      const input = document.createElement("input");
      input.type = "hidden";
      input.name = pair[0];
      input.value = pair[1];
      form.append(input);
    });
    document.body.append(form);
  }
  if (form) form.submit();
}

function showShortcuts() {
  if (shortcuts && !shortcuts.open) shortcuts.showModal();
}

// Returns false for a key the queue does not use, so the browser keeps its default for it.
function handleKey(key, row) {
  if (key === "j") move(row ? 1 : 0);
  else if (key === "k") move(-1);
  else if (key === "u") undoLast();
  else if (key === "/") focusSearch();
  else if (key === "?") showShortcuts();
  else if (row && key === "x") row.querySelector("input[name=ids]").click();
  else if (row && key === "e") openComment(row);
  else if (row && actionKeys[key]) pressButton(row, actionKeys[key]);
  else return false;
  return true;
}

document.addEventListener("keydown", function (event) {
  // Shortcuts with modifiers belong to the browser, and typing in a field must stay typing.
  if (event.ctrlKey || event.metaKey || event.altKey || /INPUT|SELECT|TEXTAREA/.test(event.target.tagName)) return;
  if (shortcuts && shortcuts.open) return;
  const row = rows.includes(document.activeElement) ? document.activeElement : null;
  if (handleKey(event.key, row)) event.preventDefault();
});

// --- Decisions without a page load ------------------------------------------------------------------------------

function status(message, undo) {
  let box = document.getElementById("live-status");
  if (!box) {
    box = document.createElement("p");
    box.id = "live-status";
    box.className = "flash";
    box.setAttribute("role", "status");
    document.querySelector("main").prepend(box);
  }
  box.textContent = message + " ";
  undoAddress = undo || null;
  // The page's own "Undo" (from before this page's last action) no longer undoes the last thing done.
  const stale = document.getElementById("undo-form");
  if (stale) stale.remove();
  if (undo) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.id = "undo";
    button.textContent = "Undo";
    button.addEventListener("click", undoLast);
    box.append(button);
  }
}

function send(address, data, csrfFrom) {
  const token = (csrfFrom || document).querySelector("input[name=csrf_token]");
  if (token && !data.has("csrf_token")) data.append("csrf_token", token.value);
  return fetch(address, {method: "POST", body: data, headers: {Accept: "application/json"}, credentials: "same-origin"})
    .then(function (answer) {
      return answer.json().then(function (body) { return {ok: answer.ok, body: body}; });
    });
}

// Counts stop at the server's cap, shown as "10,000+".
function counted(count, cap) {
  return cap && count > cap ? cap.toLocaleString("en") + "+" : count.toLocaleString("en");
}

function updateCounts(counts, cap) {
  if (!counts) return;
  document.querySelectorAll(".tabs a[data-state]").forEach(function (tab) {
    const count = counts[tab.dataset.state];
    if (count !== undefined) tab.querySelector(".count").textContent = counted(count, cap);
  });
  const waiting = document.getElementById("waiting");
  if (waiting && counts.held !== undefined) waiting.textContent = counted(counts.held, cap) + " waiting";
}

function removeRows(ids) {
  const focused = document.activeElement;
  let next = null;
  ids.forEach(function (id) {
    const row = document.getElementById("queue-" + id);
    if (!row) return;
    if (row === focused || row.contains(focused)) next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
  });
  rows = Array.from(document.querySelectorAll("tr.queue-row"));
  if (next && rows.includes(next)) next.focus();
  else if (rows.length) rows[0].focus();
  if (!rows.length) {
    const more = document.getElementById("next-page");
    if (more) window.location.href = window.location.href;  // this page is done: show what follows
  }
}

function submitWithoutReload(event) {
  const form = event.target;
  if (!form.matches || !form.matches("form.decision, form#bulk")) return;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
    return;
  }
  event.preventDefault();
  const data = new FormData(form);  // with the ticked boxes: they belong to the bulk form through form="bulk"
  // getAttribute, not form.action: the bulk form has a field named "action", which shadows the property.
  send(form.getAttribute("action"), data, form).then(function (result) {
    if (!result.ok) {
      status(result.body.error || "That did not work; reload the page and try again.");
      return;
    }
    status(result.body.message, result.body.undo);
    removeRows(result.body.ids || []);
    updateCounts(result.body.counts, result.body.cap);
  }, function () {
    form.submit();  // the network failed, or the answer was no JSON (signed out): fall back to the plain form
  });
}

if (rows.length) document.addEventListener("submit", submitWithoutReload);

const tickAll = document.getElementById("tick-all");
if (tickAll) {
  tickAll.addEventListener("click", function () {
    document.querySelectorAll("input[name=ids]").forEach(function (box) { box.checked = tickAll.checked; });
  });
}
