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

// Timeline bars: keyboard (Tab, Enter or Space) and touch (tap) show a bar's details in
// words below the drawing, as hovering shows its tooltip.
function setUpTimeline(root) {
  root.querySelectorAll("svg.timeline").forEach((svg) => {
    const detail = svg.closest("section, article, main").querySelector(".timeline-detail");
    if (!detail) return;
    const select = (bar) => {
      svg.querySelectorAll(".bar.selected").forEach((other) => other.classList.remove("selected"));
      bar.classList.add("selected");
      detail.textContent = bar.dataset.detail;
    };
    svg.querySelectorAll(".bar").forEach((bar) => {
      bar.addEventListener("click", () => select(bar));
      bar.addEventListener("focus", () => select(bar));
      bar.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          select(bar);
        }
      });
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setUpTimeline(document);
  if (window.matchMedia("(max-width: 800px)").matches) {
    document.querySelectorAll("details.facets").forEach((details) => { details.open = false; });
  }
  labelTableCells(document);
  setUpCopyButtons(document);
});
