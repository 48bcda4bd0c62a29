// mlportal's pages: small enhancements; every page works without them.
"use strict";

// Phones show each table row as a card: label every cell with its column heading.
function labelTableCells(root) {
  root.querySelectorAll("table").forEach((table) => {
    const headings = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent.trim());
    if (!headings.length) return;
    table.classList.add("stack");
    table.querySelectorAll("tbody tr").forEach((row) => {
      let column = 0;
      Array.from(row.children).forEach((cell) => {
        if (!cell.hasAttribute("data-label")) cell.setAttribute("data-label", headings[column] || "");
        column += cell.colSpan || 1;
      });
    });
  });
}

// Copy buttons: <button class="copy" data-copy="text">.
function setUpCopyButtons(root) {
  root.querySelectorAll("button.copy[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const text = button.dataset.copy;
      let copied = false;
      try {
        await navigator.clipboard.writeText(text);
        copied = true;
      } catch (error) {
        const area = document.createElement("textarea");
        area.value = text;
        area.setAttribute("readonly", "");
        area.style.position = "absolute";
        area.style.left = "-9999px";
        document.body.appendChild(area);
        area.select();
        copied = document.execCommand("copy");
        area.remove();
      }
      const label = button.textContent;
      button.textContent = copied ? "Copied" : "Copy failed";
      button.setAttribute("aria-live", "polite");
      setTimeout(() => { button.textContent = label; }, 1500);
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  if (window.matchMedia("(max-width: 800px)").matches) {
    document.querySelectorAll("details.facets").forEach((details) => { details.open = false; });
  }
  labelTableCells(document);
  setUpCopyButtons(document);
});
