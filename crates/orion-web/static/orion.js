// Orion's only script of its own: keyboard shortcuts, local times, and the browser's part of
// security keys (WebAuthn), which cannot work without a script. Other pages work without it.
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
      case "m": handled = open("macro-box", "macro-pick"); break;
      case "c": if (help) { window.location.href = "/agent/new"; } else { handled = false; } break;
      case "?": if (help && help.showModal) { help.open ? help.close() : help.showModal(); } else { handled = false; } break;
      default: handled = false;
    }
    if (handled) ev.preventDefault();
  });
  // Times are written in UTC by the server ("2026-11-22 14:03 UTC"); show them in the reader's
  // zone and format. Times written as plain text are first wrapped in <time>, so every page is
  // covered, not only those that mark their times up.
  var UTC_TIME = /\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/g;
  function wrapTimes(root) {
    var scope = root && root.nodeType === 1 ? root : document.body;
    if (!scope) return;
    var walker = document.createTreeWalker(scope, NodeFilter.SHOW_TEXT, {
      acceptNode: function (n) {
        var p = n.parentNode;
        if (!p || /^(TIME|OPTION|TEXTAREA|SCRIPT|STYLE|CODE|PRE|TITLE)$/.test(p.nodeName)) return NodeFilter.FILTER_REJECT;
        UTC_TIME.lastIndex = 0;
        return UTC_TIME.test(n.nodeValue) ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_SKIP;
      }
    });
    var found = [];
    while (walker.nextNode()) found.push(walker.currentNode);
    found.forEach(function (n) {
      var text = n.nodeValue, frag = document.createDocumentFragment(), last = 0, m;
      UTC_TIME.lastIndex = 0;
      while ((m = UTC_TIME.exec(text))) {
        if (m.index > last) frag.appendChild(document.createTextNode(text.slice(last, m.index)));
        var t = document.createElement("time");
        t.textContent = m[0];
        frag.appendChild(t);
        last = m.index + m[0].length;
      }
      if (last < text.length) frag.appendChild(document.createTextNode(text.slice(last)));
      n.parentNode.replaceChild(frag, n);
    });
  }
  function localTimes(root) {
    wrapTimes(root);
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
  // On a narrow screen tables become stacked rows (orion.css); each cell is labelled with its
  // column's heading so a row still reads as "Matches: job=node".
  function labelCells(root) {
    Array.prototype.forEach.call(root.querySelectorAll("table"), function (t) {
      var heads = Array.prototype.map.call(t.querySelectorAll("thead th"), function (th) { return th.textContent.trim(); });
      if (!heads.length) return;
      Array.prototype.forEach.call(t.querySelectorAll("tbody tr"), function (tr) {
        Array.prototype.forEach.call(tr.children, function (td, i) {
          if (heads[i] && !td.hasAttribute("colspan") && !td.hasAttribute("data-label")) td.setAttribute("data-label", heads[i]);
        });
      });
    });
  }
  // The "someone else is replying" hint: while the agent types a reply or a note, the server is
  // told (at most every 20 s); the line itself asks every 10 s who else is writing (htmx).
  var lastSaid = 0;
  document.addEventListener("input", function (ev) {
    var line = document.getElementById("replying");
    if (!line || !ev.target || !/^(reply|note|macro-reply)$/.test(ev.target.id)) return;
    var now = Date.now();
    if (now - lastSaid < 20000) return;
    lastSaid = now;
    fetch(line.getAttribute("hx-post"), {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" }, body: "writing=1"
    });
  });
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); labelCells(document); });
  document.addEventListener("htmx:afterSwap", function (ev) { localTimes(ev.target); labelCells(ev.target.closest("table") || ev.target); });
})();

// Security keys and passkeys: a button with data-webauthn="create" or "get" fetches the options
// from data-options (POST), asks the browser for the key, and submits the answer in the form
// data-form (its hidden "credential" field), so the server answers with a normal page.
(function () {
  "use strict";
  function bytes(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }
  function b64(buf) {
    var b = new Uint8Array(buf), s = "";
    for (var i = 0; i < b.length; i++) s += String.fromCharCode(b[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function ids(list) {
    (list || []).forEach(function (c) { c.id = bytes(c.id); });
  }
  function answer(cred) {
    var r = cred.response, out = { id: cred.id, rawId: b64(cred.rawId), type: cred.type,
      extensions: cred.getClientExtensionResults ? cred.getClientExtensionResults() : {}, response: {} };
    out.response.clientDataJSON = b64(r.clientDataJSON);
    if (r.attestationObject) out.response.attestationObject = b64(r.attestationObject);
    if (r.authenticatorData) out.response.authenticatorData = b64(r.authenticatorData);
    if (r.signature) out.response.signature = b64(r.signature);
    if (r.userHandle) out.response.userHandle = b64(r.userHandle);
    return out;
  }
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest && ev.target.closest("[data-webauthn]");
    if (!btn) return;
    ev.preventDefault();
    var form = document.getElementById(btn.getAttribute("data-form"));
    var status = document.getElementById(btn.getAttribute("data-status"));
    function say(t) { if (status) status.textContent = t; }
    if (!window.PublicKeyCredential || !navigator.credentials) {
      say("This browser cannot use security keys.");
      return;
    }
    if (form && !form.reportValidity()) return;
    var mode = btn.getAttribute("data-webauthn");
    say(mode === "create" ? "Touch your security key (or confirm on your device)…" : "Touch your security key…");
    fetch(btn.getAttribute("data-options"), { method: "POST", credentials: "same-origin",
      headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (!r.ok) return r.json().then(function (e) { throw new Error(e.error ? e.error.message : r.statusText); });
        return r.json();
      })
      .then(function (o) {
        var pk = o.publicKey;
        pk.challenge = bytes(pk.challenge);
        if (mode === "create") {
          pk.user.id = bytes(pk.user.id);
          ids(pk.excludeCredentials);
          return navigator.credentials.create({ publicKey: pk });
        }
        ids(pk.allowCredentials);
        return navigator.credentials.get({ publicKey: pk });
      })
      .then(function (cred) {
        form.querySelector("input[name=credential]").value = JSON.stringify(answer(cred));
        form.submit();
      })
      .catch(function (e) {
        say(e && e.name === "NotAllowedError" ? "Cancelled, or the key did not answer in time. Try again." :
          "That did not work: " + (e && e.message ? e.message : e));
      });
  });
})();

// Forms the server re-renders as answers change (data-live-form, the catalog's): what was typed
// while the server's answer was on its way is never overwritten. An answer that arrives after
// the form changed is dropped; leaving the field that changed asks again, with everything.
(function () {
  "use strict";
  function values(form) { return new URLSearchParams(new FormData(form)).toString(); }
  function liveForm(ev) {
    var d = ev.detail || {};
    var elt = (d.requestConfig && d.requestConfig.elt) || d.elt;
    return elt && elt.hasAttribute && elt.hasAttribute("data-live-form") ? elt : null;
  }
  document.addEventListener("htmx:beforeRequest", function (ev) {
    var form = liveForm(ev);
    if (form) form.setAttribute("data-sent", values(form));
  });
  document.addEventListener("htmx:beforeSwap", function (ev) {
    var form = liveForm(ev);
    if (form && form.getAttribute("data-sent") !== values(form)) ev.detail.shouldSwap = false;
  });
})();
