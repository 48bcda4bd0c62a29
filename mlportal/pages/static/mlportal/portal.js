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

// Copy buttons: <button type="button" class="copy" data-copy="text">. The clipboard API
// where the browser allows it (HTTPS, localhost), else a hidden text area and execCommand;
// the button says "Copied" (or "Copy failed") for a moment, and a live region tells screen
// readers.
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch (error) {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    let copied = false;
    try { copied = document.execCommand("copy"); } catch (ignored) { copied = false; }
    area.remove();
    return copied;
  }
}

function setUpCopyButtons(root) {
  const buttons = root.querySelectorAll("button.copy[data-copy]");
  if (!buttons.length) return;
  let status = document.getElementById("copy-status");
  if (!status) {
    status = document.createElement("span");
    status.id = "copy-status";
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    document.body.appendChild(status);
  }
  buttons.forEach((button) => {
    button.dataset.label = button.textContent;
    button.addEventListener("click", async () => {
      const copied = await copyText(button.dataset.copy);
      clearTimeout(button.copyTimer);
      button.classList.toggle("copied", copied);
      button.classList.toggle("failed", !copied);
      button.textContent = copied ? "Copied" : "Copy failed";
      status.textContent = copied ? `Copied ${button.dataset.copy}` : "Copy failed: select the text and copy it";
      button.copyTimer = setTimeout(() => {
        button.textContent = button.dataset.label;
        button.classList.remove("copied", "failed");
      }, 2000);
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
