// casebinder: the Records tab's import form. Once a file is chosen, the columns of its first line (a CSV's header,
// or the dotted paths of a JSON line's fields) are listed under the mapping, to write it from; a PayPal activity
// export's header also offers to fill the mapping in from the columns it has. Only the file's first 64 KiB are
// read, in the browser; nothing is sent. A gzip is not opened: the form works as it is without this.
"use strict";
(function () {
  var input = document.getElementById("import-file");
  var out = document.getElementById("import-columns");
  var list = document.getElementById("import-column-list");
  var paypal = document.getElementById("import-paypal");
  if (!input || !out || !list || !window.Blob || !Blob.prototype.text) {
    return;
  }

  // PayPal's activity export: its columns and the fields they are, in the order they are written (the date, the time
  // of day and the zone all make paid_at), and the columns that tell it, as the server knows them
  // (api/records/presets.py). A column the file does not have is left out.
  var PAYPAL = paypal ? JSON.parse(paypal.getAttribute("data-paypal")) : null;

  function isPayPal(columns) {
    return PAYPAL.header.every(function (name) { return columns.indexOf(name) >= 0; });
  }

  function fillPayPal(columns) {
    var lines = PAYPAL.columns.filter(function (pair) { return columns.indexOf(pair[0]) >= 0; }).map(function (pair) {
      return pair[0] + " = " + pair[1];
    });
    document.getElementById("import-mapping").value = lines.join("\n");
    document.getElementById("import-role").value = "payments";
    document.getElementById("import-date-order").focus();
  }

  function csvCells(line) {
    var cells = [];
    var cell = "";
    var quoted = false;
    for (var i = 0; i < line.length; i += 1) {
      var c = line[i];
      if (quoted) {
        if (c === '"' && line[i + 1] === '"') {
          cell += '"';
          i += 1;
        } else if (c === '"') {
          quoted = false;
        } else {
          cell += c;
        }
      } else if (c === '"') {
        quoted = true;
      } else if (c === ",") {
        cells.push(cell);
        cell = "";
      } else {
        cell += c;
      }
    }
    cells.push(cell);
    return cells;
  }

  function paths(value, prefix, found) {
    Object.keys(value).forEach(function (key) {
      var path = prefix ? prefix + "." + key : key;
      var inner = value[key];
      if (inner && typeof inner === "object" && !Array.isArray(inner) && Object.keys(inner).length) {
        paths(inner, path, found);
      } else {
        found.push(path);
      }
    });
    return found;
  }

  function columnsOf(first) {
    var line = first.replace(/^\uFEFF/, "");
    if (/^\s*\{/.test(line)) {
      try {
        var value = JSON.parse(line);
        return value && typeof value === "object" ? paths(value, "", []) : [];
      } catch (e) {
        return [];
      }
    }
    return csvCells(line).filter(function (cell) { return cell.trim() !== ""; });
  }

  input.addEventListener("change", function () {
    out.hidden = true;
    list.textContent = "";
    if (paypal) {
      paypal.hidden = true;
    }
    var file = input.files && input.files[0];
    if (!file || /\.gz$/i.test(file.name)) {
      return;
    }
    file.slice(0, 65536).text().then(function (head) {
      var columns = columnsOf(head.split(/\r?\n/)[0] || "").slice(0, 200);
      columns.forEach(function (name) {
        var item = document.createElement("li");
        var code = document.createElement("code");
        code.textContent = name; // text, never markup: a column's name is the file's
        code.setAttribute("dir", "auto");
        item.appendChild(code);
        list.appendChild(item);
      });
      out.hidden = columns.length === 0;
      if (paypal && isPayPal(columns)) {
        paypal.hidden = false;
        paypal.querySelector("button").onclick = function () { fillPayPal(columns); };
      }
    });
  });
})();
