// Orion's only script of its own: keyboard shortcuts and local times. Pages work without it.
(function () {
  "use strict";
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("[data-row]")); }
  function select(delta) {
    var all = rows();
    if (!all.length) return;
    var i = all.findIndex(function (r) { return r.classList.contains("sel"); });
    if (i >= 0) all[i].classList.remove("sel");
    i = Math.max(0, Math.min(all.length - 1, i < 0 ? 0 : i + delta));
    all[i].classList.add("sel");
    var link = all[i].querySelector("a");
    if (link) link.focus();
  }
  function open(boxId, fieldId) {
    var box = document.getElementById(boxId);
    if (box) box.open = true;
    var f = document.getElementById(fieldId);
    if (f) { f.focus(); return true; }
    return false;
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var help = document.getElementById("help");
    if (ev.key === "Escape") {
      if (typing(document.activeElement)) document.activeElement.blur();
      return;
    }
    if (typing(ev.target)) return;
    var handled = true;
    switch (ev.key) {
      case "j": select(1); break;
      case "k": select(-1); break;
      case "/": handled = open(null, "q") || open(null, "search-q"); break;
      case "r": handled = open("reply-box", "reply"); break;
      case "n": handled = open("note-box", "note"); break;
      case "e": handled = open("escalate-box", "escalate-reason"); break;
      case "c": if (help) { window.location.href = "/agent/new"; } else { handled = false; } break;
      case "?": if (help && help.showModal) { help.open ? help.close() : help.showModal(); } else { handled = false; } break;
      default: handled = false;
    }
    if (handled) ev.preventDefault();
  });
  // Times are written in UTC by the server; show them in the reader's zone.
  function localTimes(root) {
    (root || document).querySelectorAll("time").forEach(function (t) {
      var m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}) UTC$/.exec(t.textContent.trim());
      if (!m) return;
      var d = new Date(m[1] + "T" + m[2] + ":00Z");
      if (isNaN(d)) return;
      t.setAttribute("datetime", d.toISOString());
      t.title = t.textContent;
      t.textContent = d.toLocaleString([], { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
  document.addEventListener("htmx:afterSwap", function (ev) { localTimes(ev.target); });
})();
