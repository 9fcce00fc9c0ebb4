// Progressive enhancement of record forms; everything works without it.
// - fields with data-show-if appear/disappear, data-required-if / data-readonly-if become required / read-only,
//   as the user answers (the server's translation of the blueprint's condition; it re-checks on save)
// - child tables get an "add a row" button
// - link fields with many records get a type-ahead over the API (the user's own rights apply)
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

  // null when the condition's field is not on this form (the server decided)
  function holds(form, box, attribute) {
    var rule;
    try { rule = JSON.parse(box.getAttribute(attribute)); } catch (e) { return null; }
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

  function enableTypeahead(form) {
    form.querySelectorAll("input.typeahead").forEach(function (box) {
      var select = document.getElementById(box.dataset.target);
      var timer = null;
      box.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(function () {
          fetch(box.dataset.url + encodeURIComponent(box.value), { credentials: "same-origin", headers: { Accept: "application/json" } })
            .then(function (r) { return r.ok ? r.json() : { items: [] }; })
            .then(function (page) {
              var chosen = select.value;
              var keep = Array.prototype.filter.call(select.options, function (o) { return o.value === "" || o.value === chosen; });
              select.innerHTML = "";
              keep.forEach(function (o) { select.appendChild(o); });
              page.items.forEach(function (item) {
                if (String(item.id) === chosen) return;
                var option = document.createElement("option");
                option.value = item.id;
                option.textContent = item.label || item.title || ("#" + item.id);
                select.appendChild(option);
              });
            })
            .catch(function () { /* offline: the first records stay available */ });
        }, 250);
      });
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
