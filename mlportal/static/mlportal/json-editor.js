// The admin's JSON editor: says as you type whether the document parses, and if not where
// (line and column). Tab still moves focus (no keyboard trap). The server checks again on
// save.
"use strict";
(function () {
  function lineAndColumn(text, position) {
    const before = text.slice(0, position).split("\n");
    return [before.length, before[before.length - 1].length + 1];
  }

  function check(box) {
    const status = document.getElementById(box.id + "_status");
    if (!status) return;
    const text = box.value;
    if (!text.trim()) { status.textContent = ""; box.classList.remove("invalid"); return; }
    try {
      JSON.parse(text);
      status.textContent = "Valid JSON.";
      status.className = "json-editor-status ok";
      box.classList.remove("invalid");
    } catch (error) {
      let where = "";
      const position = /position (\d+)/.exec(error.message);
      const line = /line (\d+) column (\d+)/.exec(error.message);
      if (line) where = ` at line ${line[1]}, column ${line[2]}`;
      else if (position) {
        const [row, column] = lineAndColumn(text, Number(position[1]));
        where = ` at line ${row}, column ${column}`;
      }
      status.textContent = `Invalid JSON${where}: ${error.message}`;
      status.className = "json-editor-status error";
      box.classList.add("invalid");
    }
  }

  function setUp(box) {
    box.addEventListener("input", () => check(box));
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("textarea.json-editor").forEach(setUp);
  });
})();
