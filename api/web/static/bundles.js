// The bundle builder's chooser: Move up and down, and "Apply the order", done in the page instead of by posting
// the form back (which is what the same buttons do without JavaScript). Positions are renumbered after each step,
// the step is announced, and the focus stays on the button that was pressed.
"use strict";
(function () {
  function rows(body) { return Array.prototype.slice.call(body.querySelectorAll("tr[data-row]")); }

  function renumber(body) {
    rows(body).forEach(function (row, index) { row.querySelector("input.position").value = String(index + 1); });
  }

  function announce(text) {
    var status = document.getElementById("status");
    if (status) { status.textContent = ""; window.setTimeout(function () { status.textContent = text; }, 50); }
  }

  function choose() {
    var chosen = document.getElementById("selection-chosen");
    if (chosen) { chosen.checked = true; }
  }

  function labelOf(row) { return row.querySelector("td.strong").textContent.trim(); }

  function move(button) {
    var row = button.closest("tr");
    var body = row.parentNode;
    if (button.dataset.move === "up") {
      var before = row.previousElementSibling;
      if (!before) { announce("Exhibit " + labelOf(row) + " is already first."); return; }
      body.insertBefore(row, before);
    } else {
      var after = row.nextElementSibling;
      if (!after || !after.hasAttribute("data-row")) { announce("Exhibit " + labelOf(row) + " is already last."); return; }
      body.insertBefore(after, row);
    }
    renumber(body);
    button.focus();
    var all = rows(body);
    announce("Exhibit " + labelOf(row) + " moved to position " + (all.indexOf(row) + 1) + " of " + all.length + ".");
  }

  function applyOrder(body) {
    var listed = rows(body).map(function (row, index) {
      // As the server orders them without JavaScript: a row given another's number lands at that number.
      var typed = parseFloat(row.querySelector("input.position").value);
      var at = index + 1;
      var key = isFinite(typed) ? typed + (typed > at ? 0.5 : typed < at ? -0.5 : 0) : at;
      return { row: row, key: key, index: index };
    });
    listed.sort(function (a, b) { return a.key - b.key || a.index - b.index; });
    var more = document.getElementById("more-row");
    listed.forEach(function (item) { body.insertBefore(item.row, more); });
    renumber(body);
    announce("The exhibits are now in the order of their positions.");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-move], button[data-apply-order]");
    if (!button || !document.getElementById("chooser-rows")) { return; }
    event.preventDefault();
    choose();
    if (button.hasAttribute("data-move")) { move(button); } else { applyOrder(document.getElementById("chooser-rows")); }
  });

  document.addEventListener("change", function (event) {
    if (event.target.closest("#chooser-rows")) { choose(); }
  });

  // "Show more exhibits" (htmx): the new rows are numbered on from the rest, and the focus goes to the first of them.
  var listedBefore = 0;
  function loadsRows(event) {
    var path = (event.detail.pathInfo && event.detail.pathInfo.requestPath) || "";
    return path.indexOf("/bundles/new/rows") !== -1;
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    var body = document.getElementById("chooser-rows");
    if (body && loadsRows(event)) { listedBefore = rows(body).length; }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    var body = document.getElementById("chooser-rows");
    if (!body || !loadsRows(event)) { return; }
    renumber(body);
    var all = rows(body);
    if (all.length > listedBefore) { all[listedBefore].querySelector("input[type=checkbox]").focus(); }
    announce((all.length - listedBefore) + " more exhibits listed, " + all.length + " in all.");
  });
})();
