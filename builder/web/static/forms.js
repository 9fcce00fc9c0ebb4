// Progressive enhancement of record forms; everything works without it.
// - fields with data-show-if appear/disappear, data-required-if / data-readonly-if become required / read-only,
//   as the user answers (the server's translation of the blueprint's condition; it re-checks on save)
// - child tables get an "add a row" button
// - link fields with many records get a type-ahead over the API (the user's own rights apply)
// - a link with a `filter:` re-reads its options when a field the filter reads changes (the server filters)
// - a link's "New …" opens the target's minimal form in a dialog; the record made is picked
// - a half-filled form is kept as a draft in this browser (never sensitive, encrypted or PHI values)
(function () {
  "use strict";

  function fieldValue(form, name) {
    var inputs = form.querySelectorAll('[name="' + name + '"]');
    if (!inputs.length) return null;
    var first = inputs[0];
    if (first.type === "checkbox" && inputs.length === 1) return first.checked ? "true" : "false";
    if (first.type === "checkbox") {
      return Array.prototype.filter.call(inputs, function (i) { return i.checked; }).map(function (i) { return i.value; });
    }
    return first.value;
  }

  // null when the condition's field is not on this form (the server decided); a list holds when any rule does
  function holds(form, box, attribute) {
    var rule;
    try { rule = JSON.parse(box.getAttribute(attribute)); } catch (e) { return null; }
    if (Array.isArray(rule)) {
      var answers = rule.map(function (r) { return ruleHolds(form, r); });
      if (answers.indexOf(true) >= 0) return true;
      return answers.indexOf(null) >= 0 ? null : false;
    }
    return ruleHolds(form, rule);
  }

  function ruleHolds(form, rule) {
    var value = fieldValue(form, rule.field);
    if (value === null) return null;
    if (rule.op === "truthy") return value === "true" || (value !== "" && value !== "false" && value.length !== 0);
    var hit = Array.isArray(value) ? value.some(function (v) { return rule.values.indexOf(v) >= 0; })
                                   : rule.values.indexOf(value) >= 0;
    return rule.op === "in" ? hit : !hit;
  }

  function applyConditions(form) {
    form.querySelectorAll("[data-show-if]").forEach(function (box) {
      var show = holds(form, box, "data-show-if");
      if (show !== null) box.hidden = !show;
    });
    form.querySelectorAll("[data-required-if]").forEach(function (box) {
      var needed = holds(form, box, "data-required-if");
      if (needed === null) return;
      var mark = box.querySelector(".req");
      if (mark) mark.hidden = !needed;
      box.querySelectorAll("input:not([type=checkbox]), select, textarea").forEach(function (c) { c.required = needed; });
    });
    form.querySelectorAll("[data-readonly-if]").forEach(function (box) {
      var locked = holds(form, box, "data-readonly-if");
      if (locked === null) return;
      box.querySelectorAll("input, select, textarea").forEach(function (c) { c.disabled = locked; });
    });
  }

  function enableAddRow(form) {
    form.querySelectorAll("button.add-row").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var tbody = form.querySelector('[data-table="' + button.dataset.table + '"] tbody');
        var rows = tbody.querySelectorAll("tr.row");
        var template = rows[rows.length - 1];
        var clone = template.cloneNode(true);
        var next = rows.length;
        clone.querySelectorAll("input, select").forEach(function (input) {
          input.name = input.name.replace(/-\d+-/, "-" + next + "-");
          if (input.type === "checkbox") input.checked = false; else input.value = "";
          input.removeAttribute("aria-invalid");
        });
        clone.querySelectorAll(".field-error").forEach(function (p) { p.remove(); });
        tbody.appendChild(clone);
        var firstInput = clone.querySelector("input, select");
        if (firstInput) firstInput.focus();
      });
    });
  }

  // The picker's address with the text typed and, for a filtered link, the form's values the filter reads.
  function pickAddress(form, select, base, q) {
    var url = new URL(base, window.location.href);
    ((select && select.dataset.depends) || "").split(" ").forEach(function (name) {
      if (!name) return;
      var value = fieldValue(form, name);
      if (value !== null) url.searchParams.set(name, Array.isArray(value) ? value.join(",") : value);
    });
    url.searchParams.set("q", q);
    return url.pathname + url.search;
  }

  function fetchChoices(address) {
    return fetch(address, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { items: [] }; });
  }

  // Options from the picker; `keepChosen`: the chosen record stays even when not among them (a search)
  function fillOptions(select, items, keepChosen) {
    var chosen = select.value;
    var found = items.some(function (item) { return String(item.id) === chosen; });
    var keep = Array.prototype.filter.call(select.options, function (o) {
      return o.value === "" || (keepChosen && o.value === chosen);
    });
    select.innerHTML = "";
    keep.forEach(function (o) { select.appendChild(o); });
    items.forEach(function (item) {
      if (keepChosen && String(item.id) === chosen) return;
      var option = document.createElement("option");
      option.value = item.id;
      option.textContent = item.label || item.title || ("#" + item.id);
      select.appendChild(option);
    });
    select.value = keepChosen || found ? chosen : "";
    return select.value !== chosen;
  }

  function enableTypeahead(form) {
    form.querySelectorAll("input.typeahead").forEach(function (box) {
      var select = document.getElementById(box.dataset.target);
      var timer = null;
      box.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(function () {
          var base = (select && select.dataset.pickUrl) || box.dataset.url;
          fetchChoices(pickAddress(form, select, base, box.value))
            .then(function (page) { fillOptions(select, page.items, true); })
            .catch(function () { /* offline: the first records stay available */ });
        }, 250);
      });
    });
  }

  // A filtered link re-reads its options when a field its filter reads changes; a choice no longer offered is cleared.
  function enableFilteredLinks(form) {
    form.querySelectorAll("select[data-pick-url]").forEach(function (select) {
      var depends = (select.dataset.depends || "").split(" ").filter(Boolean);
      if (!depends.length) return;
      form.addEventListener("change", function (event) {
        var name = event.target && event.target.name;
        if (depends.indexOf(name) < 0) return;
        var search = document.getElementById(select.id + "-search");
        fetchChoices(pickAddress(form, select, select.dataset.pickUrl, search ? search.value : ""))
          .then(function (page) {
            if (fillOptions(select, page.items, false)) select.dispatchEvent(new Event("change", { bubbles: true }));
            select.dataset.refreshed = String(Number(select.dataset.refreshed || 0) + 1);
          })
          .catch(function () { /* offline: the server checks the filter on save */ });
      });
    });
  }

  // A quick-create's address with the form's current values its link's filter reads (`record.department=…`),
  // so the new record starts from what the filter pins; fields not on the form keep the server's values.
  function quickAddress(form, select, href) {
    var url = new URL(href, window.location.href);
    ((select && select.dataset.depends) || "").split(" ").forEach(function (name) {
      if (!name) return;
      var value = fieldValue(form, name);
      if (value === null) return;
      var text = Array.isArray(value) ? value.join(",") : value;
      if (text) url.searchParams.set("record." + name, text); else url.searchParams.delete("record." + name);
    });
    return url.pathname + url.search;
  }

  // "New …" beside a link: the target's minimal form in a dialog; without a dialog the link itself works.
  function enableQuickCreate(form) {
    var dialogs = typeof HTMLDialogElement !== "undefined";
    form.querySelectorAll("a.quick-new").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var select = document.getElementById(link.dataset.quickFor);
        link.href = quickAddress(form, select, link.href);
        if (!dialogs) return;  // the link itself is followed, with the values as they are now
        event.preventDefault();
        var dialog = document.createElement("dialog");
        dialog.className = "quick-dialog";
        document.body.appendChild(dialog);
        dialog.addEventListener("close", function () { dialog.remove(); });
        function show(html) {
          var page = new DOMParser().parseFromString(html, "text/html");
          var inner = page.querySelector("form.record-form");
          if (!inner) { dialog.close(); window.location.href = link.href; return; }
          var heading = page.querySelector("h1");
          dialog.innerHTML = "";
          if (heading) dialog.appendChild(document.importNode(heading, true));
          var alert = page.querySelector("main .alert[role=alert]");
          if (alert) dialog.appendChild(document.importNode(alert, true));
          var quick = document.importNode(inner, true);
          dialog.appendChild(quick);
          quick.querySelectorAll(".actions a.button").forEach(function (cancel) {
            cancel.addEventListener("click", function (e) { e.preventDefault(); dialog.close(); });
          });
          applyConditions(quick);
          quick.addEventListener("change", function () { applyConditions(quick); });
          enableTypeahead(quick);
          quick.addEventListener("submit", function (e) {
            e.preventDefault();
            fetch(quick.action, { method: "POST", body: new FormData(quick), credentials: "same-origin",
                                  headers: { Accept: "application/json" } })
              .then(function (r) {
                if (r.status === 201) {
                  return r.json().then(function (made) {
                    var option = document.createElement("option");
                    option.value = made.id;
                    option.textContent = made.label;
                    select.appendChild(option);
                    select.value = String(made.id);
                    select.dispatchEvent(new Event("change", { bubbles: true }));
                    dialog.close();
                    select.focus();
                  });
                }
                return r.text().then(show);
              })
              .catch(function () { dialog.close(); window.location.href = link.href; });
          });
          if (!dialog.open) dialog.showModal();
          var first = quick.querySelector("input:not([type=hidden]), select, textarea");
          if (first) first.focus();
        }
        fetch(link.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
          .then(function (r) { return r.text(); })
          .then(show)
          .catch(function () { window.location.href = link.href; });
      });
    });
  }

  // Drafts: the form's values in localStorage under data-draft-key (user, entity, record or "new").
  // Inputs inside [data-no-draft] (sensitive, encrypted, PHI) are never written down.
  function draftInputs(form) {
    return Array.prototype.filter.call(form.querySelectorAll("input[name], select[name], textarea[name]"), function (i) {
      return i.type !== "hidden" && i.type !== "password" && i.type !== "file" && !i.closest("[data-no-draft]") &&
             !i.classList.contains("typeahead");
    });
  }

  function readDraft(key) {
    try { return JSON.parse(window.localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }

  function enableDrafts(form) {
    var key = form.dataset.draftKey;
    if (!key || !window.localStorage) return;
    var pendingKey = "crm-draft-sent:" + key;
    var version = form.querySelector("input[name=version]");
    var notice = document.querySelector(".draft-notice");
    var sent = null;
    try { sent = window.sessionStorage.getItem(pendingKey); window.sessionStorage.removeItem(pendingKey); } catch (e) { sent = null; }
    if (form.dataset.submitted && sent) {
      window.localStorage.setItem(key, sent);  // refused by the server: the draft stays until a save succeeds
    }
    function save() {
      var values = {};
      draftInputs(form).forEach(function (input) {
        if (input.type === "checkbox") {
          values[input.name] = values[input.name] || [];
          if (input.checked) values[input.name].push(input.value);
        } else {
          values[input.name] = input.value;
        }
      });
      window.localStorage.setItem(key, JSON.stringify({ version: version ? version.value : null, saved: Date.now(), values: values }));
    }
    var draft = readDraft(key);
    if (draft && !form.dataset.submitted) {
      if ((version ? version.value : null) !== draft.version) {
        window.localStorage.removeItem(key);  // the record changed since: a stale draft would undo that
      } else {
        var given = new URLSearchParams(window.location.search);  // `?doctor=17`: just picked, it wins
        var restored = false;
        draftInputs(form).forEach(function (input) {
          if (!(input.name in draft.values) || given.has(input.name)) return;
          var value = draft.values[input.name];
          if (input.type === "checkbox") {
            var on = Array.isArray(value) && value.indexOf(input.value) >= 0;
            if (input.checked !== on) { input.checked = on; restored = true; }
          } else if (input.value !== value) {
            if (input.tagName === "SELECT" && !Array.prototype.some.call(input.options, function (o) { return o.value === value; })) return;
            input.value = value;
            restored = true;
          }
        });
        if (restored && notice) notice.hidden = false;
        applyConditions(form);
      }
    }
    if (notice) {
      var discard = notice.querySelector("[data-discard-draft]");
      if (discard) discard.addEventListener("click", function () {
        window.localStorage.removeItem(key);
        window.location.reload();
      });
    }
    var timer = null;
    function later() { clearTimeout(timer); timer = setTimeout(save, 300); }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    form.addEventListener("submit", function () {
      clearTimeout(timer);
      save();
      try { window.sessionStorage.setItem(pendingKey, window.localStorage.getItem(key)); } catch (e) { /* private mode */ }
      window.localStorage.removeItem(key);  // sent: kept again only if the server refuses it
    });
  }

  // `/` anywhere but in a field focuses the header's search box (builder/web/pages/search.py)
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) { return; }
    var target = event.target;
    var tag = target && target.tagName ? target.tagName.toLowerCase() : "";
    if (tag === "input" || tag === "textarea" || tag === "select" || (target && target.isContentEditable)) { return; }
    var box = document.getElementById("global-search");
    if (box) { event.preventDefault(); box.focus(); }
  });

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.record-form").forEach(function (form) {
      applyConditions(form);
      form.addEventListener("change", function () { applyConditions(form); });
      enableAddRow(form);
      enableTypeahead(form);
      enableFilteredLinks(form);
      enableQuickCreate(form);
      enableDrafts(form);
    });
    document.querySelectorAll("form.list-tools").forEach(enableTypeahead);  // link filters on list pages
  });
})();

// The main menu starts folded on a phone (it is open without JavaScript, and on wide screens).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var menu = document.querySelector("details.main-menu");
    if (menu && window.matchMedia && window.matchMedia("(max-width: 39.99em)").matches) menu.open = false;
  });
})();

// The printable view's "Print" button (no inline script: the CSP forbids it).
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-print]");
  if (button) window.print();
});
