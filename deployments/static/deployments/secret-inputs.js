// An environment variable's value is typed like a password while its "secret" box is
// ticked, and in clear while it is not (a stored secret is never shown at all).
"use strict";
(function () {
  function sync(row) {
    const value = row.querySelector("input[data-secret-value]");
    const secret = row.querySelector("input[type=checkbox][name$='-secret']");
    if (!value || !secret) return;
    value.type = secret.checked ? "password" : "text";
  }
  document.addEventListener("change", (event) => {
    if (event.target.matches("input[type=checkbox][name$='-secret']")) {
      sync(event.target.closest("tr"));
    }
  });
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("input[data-secret-value]").forEach((input) => {
      sync(input.closest("tr"));
    });
  });
  // Rows added with "Add another" start unticked: nothing to do until ticked.
})();
