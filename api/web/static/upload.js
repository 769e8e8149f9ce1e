// casebinder: the Exhibits tab's uploader. Files dropped or chosen are sent one request each, at most three at a
// time, as FormData: the browser streams each file from disk (nothing is read into memory here). A file's bar is its
// upload's own progress; its result is what the server answered. No inline handlers: the CSP forbids them.
"use strict";
(function () {
  var IN_FLIGHT = 3;
  var panel = document.getElementById("upload");
  if (!panel || !window.XMLHttpRequest || !window.FormData) {
    return; // the panel stays the plain form it is
  }
  var form = panel.querySelector("form");
  var input = document.getElementById("upload-file");
  var kind = document.getElementById("upload-kind");
  var drop = document.getElementById("upload-drop");
  var dropText = drop.querySelector(".dropzone-text strong");
  var choose = document.getElementById("upload-choose");
  var list = document.getElementById("upload-list");
  var summary = document.getElementById("upload-summary");
  var url = panel.getAttribute("data-upload-url");
  var queue = [];
  var batch = [];
  var sending = 0;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRF-Token"] || "";
    } catch (e) {
      return "";
    }
  }

  function humanSize(n) {
    if (n < 1024) return n + " B";
    if (n < 1048576) return (n / 1024).toFixed(1) + " KB";
    if (n < 1073741824) return (n / 1048576).toFixed(1) + " MB";
    return (n / 1073741824).toFixed(2) + " GB";
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function announce(text) {
    var region = document.getElementById("status");
    if (!region) return;
    region.appendChild(el("p", "", text));
    while (region.childNodes.length > 5) region.removeChild(region.firstChild);
  }

  function link(href, text, className) {
    var a = el("a", className, text);
    a.href = href;
    return a;
  }

  // The form becomes the uploader: many files, no title field (each file's name is its title), no submit button.
  function enhance() {
    panel.classList.add("enhanced");
    panel.querySelectorAll("[data-upload-js]").forEach(function (node) { node.hidden = false; });
    panel.querySelectorAll("[data-upload-nojs]").forEach(function (node) {
      node.hidden = true;
      node.querySelectorAll("input, button").forEach(function (control) { control.disabled = true; });
    });
    input.multiple = true;
    input.required = false;
    choose.textContent = "Choose files";
    choose.classList.add("button");
  }

  function makeRow(file) {
    var item = { file: file, kind: kind.value, state: "queued" };
    item.li = el("li", "upload-row");
    var head = el("div", "upload-file");
    var name = el("span", "upload-name", file.name);
    name.dir = "auto";
    head.appendChild(name);
    head.appendChild(el("span", "upload-size", humanSize(file.size)));
    item.bar = el("progress", "upload-bar");
    item.bar.max = 1;
    item.bar.value = 0;
    item.bar.setAttribute("aria-label", "Upload of " + file.name);
    item.result = el("p", "upload-result");
    item.result.tabIndex = -1;
    item.actions = el("div", "upload-actions");
    item.li.appendChild(head);
    item.li.appendChild(item.bar);
    item.li.appendChild(item.result);
    item.li.appendChild(item.actions);
    return item;
  }

  function setState(item, state, text) {
    item.state = state;
    item.li.setAttribute("data-state", state);
    item.result.textContent = text;
  }

  function enqueue(item) {
    setState(item, "queued", "Waiting to be sent");
    item.actions.textContent = "";
    item.bar.hidden = false;
    item.bar.value = 0;
    if (batch.indexOf(item) < 0) batch.push(item);
    queue.push(item);
    summary.hidden = true; // until this batch is done
  }

  function add(files) {
    if (!files.length) return;
    files.forEach(function (file) {
      var item = makeRow(file);
      list.appendChild(item.li);
      enqueue(item);
    });
    pump();
  }

  function pump() {
    while (sending < IN_FLIGHT && queue.length) send(queue.shift());
  }

  function send(item) {
    sending += 1;
    setState(item, "sending", "Sending… 0%");
    var body = new FormData();
    body.append("kind", item.kind);
    body.append("file", item.file, item.file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.upload.addEventListener("progress", function (event) {
      if (!event.lengthComputable || item.state !== "sending") return;
      item.bar.value = event.loaded / event.total;
      item.result.textContent = event.loaded < event.total
        ? "Sending… " + Math.floor((100 * event.loaded) / event.total) + "%"
        : "Checking and storing…";
    });
    xhr.upload.addEventListener("load", function () {
      if (item.state !== "sending") return;
      item.bar.value = 1;
      item.result.textContent = "Checking and storing…";
    });
    xhr.addEventListener("load", function () { finish(item, answer(xhr)); });
    xhr.addEventListener("error", function () {
      finish(item, failed("The connection was lost before the file was stored. Send it again."));
    });
    xhr.addEventListener("abort", function () { finish(item, failed("The upload was stopped.")); });
    xhr.send(body);
  }

  function failed(message) {
    return { status: "failed", message: message };
  }

  function answer(xhr) {
    var body = null;
    try {
      body = JSON.parse(xhr.responseText);
    } catch (e) {
      body = null;
    }
    if (body && body.status) return body;
    if (body && typeof body.detail === "string") return failed(body.detail);
    return failed("The server did not take the file (error " + xhr.status + "). Send it again, or reload the page.");
  }

  function finish(item, res) {
    sending -= 1;
    setState(item, res.status, "");
    if (res.status === "added" || res.status === "duplicate") {
      item.bar.value = 1;
      if (res.label) {
        item.result.appendChild(document.createTextNode(res.status === "added" ? "Added as " : "Already in this case as "));
        item.result.appendChild(link(res.url, res.label));
      } else {
        item.result.textContent = res.message;
      }
      item.actions.appendChild(link(res.url, "Edit details", "button small"));
    } else {
      item.bar.hidden = true;
      item.result.textContent = res.message;
      var retry = el("button", "button small", "Retry");
      retry.type = "button";
      retry.setAttribute("aria-label", "Retry " + item.file.name);
      retry.addEventListener("click", function () {
        enqueue(item);
        item.result.focus();
        pump();
      });
      item.actions.appendChild(retry);
    }
    announce(item.file.name + ": " + res.message);
    pump();
    if (!sending && !queue.length) done();
  }

  function done() {
    var counts = { added: 0, duplicate: 0, failed: 0 };
    batch.forEach(function (item) { counts[item.state] = (counts[item.state] || 0) + 1; });
    var text = batch.length + (batch.length === 1 ? " file: " : " files: ") + counts.added + " added, " +
      counts.duplicate + " already in the case, " + counts.failed + " failed.";
    batch = [];
    summary.textContent = text;
    summary.hidden = false;
    announce(text);
    if (counts.added) refresh();
  }

  // The exhibits table below shows the new exhibits, in the order and filter it was showing.
  function refresh() {
    if (!window.htmx || !document.getElementById("exhibit-results")) return;
    window.htmx.ajax("GET", window.location.pathname + window.location.search, {
      target: "#exhibit-results",
      swap: "innerHTML",
    });
  }

  function carriesFiles(event) {
    return event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") >= 0;
  }

  function dragging(on) {
    drop.classList.toggle("dragging", on);
    dropText.textContent = on ? "Drop the files to add them" : "Drag files here";
  }

  enhance();
  input.addEventListener("change", function () {
    var files = Array.prototype.slice.call(input.files || []);
    input.value = "";
    add(files);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
  });
  ["dragenter", "dragover"].forEach(function (type) {
    drop.addEventListener(type, function (event) {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      dragging(true);
    });
  });
  drop.addEventListener("dragleave", function (event) {
    if (!drop.contains(event.relatedTarget)) dragging(false);
  });
  drop.addEventListener("drop", function (event) {
    event.preventDefault();
    dragging(false);
    add(Array.prototype.slice.call(event.dataTransfer.files || []));
  });
  // A file dropped beside the zone would make the browser leave the page (and the uploads) to open it.
  ["dragover", "drop"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      if (carriesFiles(event) && !drop.contains(event.target)) event.preventDefault();
    });
  });
  window.addEventListener("beforeunload", function (event) {
    if (sending || queue.length) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
