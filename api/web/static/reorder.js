// The Exhibits tab, for editors: moving an exhibit by dragging its row's handle, and keeping the keyboard where it
// was when htmx redraws the table. Nothing here is needed to move exhibits: each row's Up, Down and Move to… forms
// post on their own; a drop fills in the dragged row's Move to… form and sends it.
"use strict";
(function () {
  document.documentElement.classList.add("js");

  // Up on the first exhibit (Down on the last) stays focusable, so focus stays put once it gets there, but acts not.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[aria-disabled='true']") : null;
    if (button) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  // After an action the server names the control the keyboard goes back to (data-focus on the table).
  document.addEventListener("htmx:afterSettle", function () {
    var table = document.querySelector("#exhibit-table[data-focus]");
    if (!table) return;
    var target = document.getElementById(table.getAttribute("data-focus"));
    table.removeAttribute("data-focus");
    if (target) target.focus();
  });

  // A refusal is shown in #alerts, above the table: bring it into view.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "alerts") target.scrollIntoView({ block: "nearest" });
  });

  var dragged = null;

  function place(row) {
    return parseInt(row.getAttribute("data-position"), 10);
  }

  function unmark() {
    document.querySelectorAll("tr.drop-before, tr.drop-after").forEach(function (row) {
      row.classList.remove("drop-before", "drop-after");
    });
  }

  // The row a drag is over, if the dragged row can be dropped there.
  function dropRow(event) {
    if (!dragged || !event.target.closest) return null;
    var row = event.target.closest("table.reorderable tbody tr[data-position]");
    return row && row !== dragged && row.parentNode === dragged.parentNode ? row : null;
  }

  document.addEventListener("dragstart", function (event) {
    var handle = event.target.closest ? event.target.closest(".drag-handle") : null;
    if (!handle) return;
    dragged = handle.closest("tr");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", dragged.querySelector("th").textContent);
    event.dataTransfer.setDragImage(dragged, 16, 16);
    dragged.classList.add("dragging");
  });

  document.addEventListener("dragover", function (event) {
    var row = dropRow(event);
    if (!row) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    unmark();
    // Dropped on a row, the dragged exhibit takes that row's place: above it when moving up, below when down.
    row.classList.add(place(row) < place(dragged) ? "drop-before" : "drop-after");
  });

  document.addEventListener("drop", function (event) {
    var row = dropRow(event);
    if (!row) return;
    event.preventDefault();
    var form = dragged.querySelector("form.move-to-form");
    form.querySelector("input[name='position']").value = row.getAttribute("data-position");
    form.requestSubmit();
  });

  document.addEventListener("dragend", function () {
    unmark();
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
  });
})();
