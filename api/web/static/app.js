// casebinder web app: the few behaviours every page needs that htmx does not give. No inline handlers: the CSP
// forbids them.
"use strict";

(function () {
  // On a narrow screen the case's tabs scroll sideways: keep the current one in view.
  function showCurrentTab() {
    var current = document.querySelector(".tabs [aria-current='page']");
    if (current && current.parentElement.scrollWidth > current.parentElement.clientWidth) {
      current.scrollIntoView({ block: "nearest", inline: "center" });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", showCurrentTab);
  else showCurrentTab();
})();
