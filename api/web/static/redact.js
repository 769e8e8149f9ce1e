// The Redactions page, for editors: drag over a page's picture to draw a box. The box's edges (fractions of the page
// from its top-left) go into the page's "Draw a box" form, which still works typed by hand without this script; the
// reviewer gives a reason and sends it. Listeners sit on the document, so pages htmx redraws keep working.
"use strict";

(function () {
  var SVG = "http://www.w3.org/2000/svg";
  var MIN = 0.004; // a drag smaller than this (of the page) is a click, not a box
  var drag = null;

  function clamp(v) {
    return Math.min(1, Math.max(0, v));
  }

  function at(sheet, event) {
    var r = sheet.getBoundingClientRect();
    return { x: clamp((event.clientX - r.left) / r.width), y: clamp((event.clientY - r.top) / r.height) };
  }

  function edges(a, b) {
    return { x0: Math.min(a.x, b.x), y0: Math.min(a.y, b.y), x1: Math.max(a.x, b.x), y1: Math.max(a.y, b.y) };
  }

  function place(rect, e) {
    rect.setAttribute("x", (e.x0 * 100).toFixed(3) + "%");
    rect.setAttribute("y", (e.y0 * 100).toFixed(3) + "%");
    rect.setAttribute("width", ((e.x1 - e.x0) * 100).toFixed(3) + "%");
    rect.setAttribute("height", ((e.y1 - e.y0) * 100).toFixed(3) + "%");
  }

  function say(text) {
    var status = document.getElementById("status");
    if (status) status.textContent = text;
  }

  document.addEventListener("pointerdown", function (event) {
    var sheet = event.target.closest && event.target.closest(".redact-sheet[data-draw]");
    if (!sheet || event.button !== 0) return;
    var svg = sheet.querySelector("svg.redact-boxes");
    if (!svg) return;
    event.preventDefault();
    var old = svg.querySelector("rect.box-drawing");
    if (old) old.remove();
    var rect = document.createElementNS(SVG, "rect");
    rect.setAttribute("class", "box-drawing");
    svg.appendChild(rect);
    var start = at(sheet, event);
    drag = { sheet: sheet, rect: rect, start: start, edges: edges(start, start) };
    place(rect, drag.edges);
    sheet.setPointerCapture(event.pointerId);
  });

  document.addEventListener("pointermove", function (event) {
    if (!drag) return;
    drag.edges = edges(drag.start, at(drag.sheet, event));
    place(drag.rect, drag.edges);
  });

  function finish(event) {
    if (!drag) return;
    var done = drag;
    drag = null;
    if (done.sheet.hasPointerCapture(event.pointerId)) done.sheet.releasePointerCapture(event.pointerId);
    var e = done.edges;
    if (event.type === "pointercancel" || e.x1 - e.x0 < MIN || e.y1 - e.y0 < MIN) {
      done.rect.remove();
      return;
    }
    var form = document.getElementById(done.sheet.getAttribute("data-draw"));
    if (!form) return;
    ["x0", "y0", "x1", "y1"].forEach(function (name) {
      form.elements[name].value = e[name].toFixed(4);
    });
    var reason = form.elements.reason;
    reason.focus();
    say("Box drawn. Give the reason for it, then press Redact this box.");
  }

  document.addEventListener("pointerup", finish);
  document.addEventListener("pointercancel", finish);
})();
