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

  // "/" puts the cursor in the search box at the top of the page, unless one is typing somewhere already.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    var box = document.getElementById("site-search");
    if (!box) return;
    event.preventDefault();
    box.focus();
    box.select();
  });
})();
