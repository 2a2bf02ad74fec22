// The team page's "Copy" button: copies the welcome link beside it, and says so.
// A file rather than inline script, so the Content-Security-Policy can forbid inline script.
"use strict";

document.querySelectorAll("button[data-copy]").forEach(function (button) {
  const field = document.getElementById(button.dataset.copy);
  const said = document.getElementById(button.dataset.copy + "-copied");
  button.hidden = false;
  button.addEventListener("click", function () {
    field.select();
    const done = function () { said.textContent = "Copied."; };
    if (navigator.clipboard) {
      navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });
});
