// The Timeline tab: a chart wider than its frame (a phone, or many years) is scrolled to the months chosen, so
// the bars of the dates filtered are in view rather than the first year's.
"use strict";
(function () {
  function reveal() {
    document.querySelectorAll(".chart-frame").forEach(function (frame) {
      var chosen = frame.querySelector(".bar-link.selected .hit");
      if (!chosen || frame.scrollWidth <= frame.clientWidth) return;
      var box = chosen.getBoundingClientRect(), framed = frame.getBoundingClientRect();
      frame.scrollLeft += box.left - framed.left - frame.clientWidth / 3;
    });
  }
  document.addEventListener("DOMContentLoaded", reveal);
  document.addEventListener("htmx:afterSettle", reveal);
})();
