// Calendar and board views: place calendar cards by time, and move cards by dragging.
// Every move posts the same form the no-script "Move to…" controls post, with
// Accept: application/json; the server answers ok (the page reloads, saying so) or the reasons
// (shown in the alert region, the card stays where it was).
(function () {
  "use strict";
  // An hour is 4.5 lines of text: 72px at 16px, more in large-text mode.
  var PX_PER_MINUTE = 1.2 * (parseFloat(window.getComputedStyle(document.documentElement).fontSize) || 16) / 16;
  if (document.body && document.body.classList.contains("large-text")) PX_PER_MINUTE *= 1.3;

  function csrf() {
    var field = document.getElementById("view-csrf");
    return field ? field.value : "";
  }

  function showErrors(errors) {
    var alert = document.getElementById("view-alert");
    if (!alert) return;
    alert.textContent = "";
    var list = document.createElement("ul");
    errors.forEach(function (text) {
      var item = document.createElement("li");
      item.textContent = text;
      list.appendChild(item);
    });
    alert.appendChild(list);
    alert.hidden = false;
    alert.focus && alert.setAttribute("tabindex", "-1");
    alert.focus && alert.focus();
  }

  function post(url, fields, card) {
    var body = new URLSearchParams();
    body.set("csrf_token", csrf());
    Object.keys(fields).forEach(function (key) { body.set(key, fields[key]); });
    card.classList.add("moving");
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf() },
      body: body.toString()
    }).then(function (response) {
      return response.json().catch(function () { return { ok: false, errors: [response.statusText] }; });
    }).then(function (answer) {
      card.classList.remove("moving");
      if (answer.ok) {
        var here = new URL(window.location.href);
        here.searchParams.set("moved", String(answer.id));
        window.location.assign(here.toString());
      } else {
        showErrors(answer.errors || []);
      }
    }).catch(function () {
      card.classList.remove("moving");
      showErrors(["Network error"]);
    });
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function setupCalendar(calendar) {
    var firstHour = parseInt(calendar.dataset.firstHour, 10);
    var span = parseInt(calendar.dataset.span, 10);
    var slot = parseInt(calendar.dataset.slot, 10) || 15;
    var mode = calendar.dataset.mode;
    var phone = window.matchMedia("(max-width: 40em)");
    var hours = Array.prototype.map.call(calendar.querySelectorAll(".cal-hour"), function (h) { return h.textContent; });
    calendar.querySelectorAll(".cal-body").forEach(function (body) {
      hours.forEach(function (text, index) {
        var mark = document.createElement("span");
        mark.className = "cal-hour-mark";
        mark.setAttribute("aria-hidden", "true");
        mark.textContent = text;
        mark.dataset.top = String(index * 60);
        body.appendChild(mark);
      });
    });
    function place() {
      calendar.classList.toggle("cal-placed", mode === "day" && !phone.matches);
      calendar.querySelectorAll(".cal-hour-mark").forEach(function (mark) {
        mark.style.top = (parseInt(mark.dataset.top, 10) * PX_PER_MINUTE) + "px";
      });
      calendar.querySelectorAll(".cal-body").forEach(function (body) {
        body.style.height = mode === "day" && !phone.matches ? (span * PX_PER_MINUTE) + "px" : "";
      });
      calendar.querySelectorAll(".cal-card").forEach(function (card) {
        if (mode === "day" && !phone.matches) {
          card.style.top = (parseInt(card.dataset.top, 10) * PX_PER_MINUTE) + "px";
          card.style.minHeight = (parseInt(card.dataset.len, 10) * PX_PER_MINUTE) + "px";
        } else {
          card.style.top = "";
          card.style.minHeight = "";
        }
      });
    }
    place();
    phone.addEventListener && phone.addEventListener("change", place);
    var dragged = null;
    calendar.addEventListener("dragstart", function (event) {
      var card = event.target.closest && event.target.closest(".cal-card");
      if (!card) return;
      dragged = card;
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", card.dataset.id);
    });
    calendar.addEventListener("dragover", function (event) {
      if (dragged && event.target.closest(".cal-col")) event.preventDefault();
    });
    calendar.addEventListener("drop", function (event) {
      var column = event.target.closest(".cal-col");
      if (!dragged || !column) return;
      event.preventDefault();
      var body = column.querySelector(".cal-body");
      var time = dragged.dataset.start.slice(11);
      if (mode === "day" && calendar.classList.contains("cal-placed")) {
        var offset = event.clientY - body.getBoundingClientRect().top;
        var minute = Math.max(0, Math.round(offset / PX_PER_MINUTE / slot) * slot) + firstHour * 60;
        time = pad(Math.floor(minute / 60) % 24) + ":" + pad(minute % 60);
      }
      var day = column.dataset.day || dragged.dataset.start.slice(0, 10);
      var fields = { starts_at: day + "T" + time, version: dragged.dataset.version };
      if (column.dataset.group) fields.group = column.dataset.group;
      if (!dragged.dataset.move) return;
      post(dragged.dataset.move, fields, dragged);
      dragged = null;
    });
    calendar.addEventListener("dragend", function () { dragged = null; });
  }

  function setupBoard(board) {
    var dragged = null;
    board.addEventListener("dragstart", function (event) {
      var card = event.target.closest && event.target.closest(".board-card");
      if (!card) return;
      dragged = card;
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", card.dataset.id);
    });
    board.addEventListener("dragover", function (event) {
      if (dragged && event.target.closest(".board-col")) event.preventDefault();
    });
    board.addEventListener("drop", function (event) {
      var column = event.target.closest(".board-col");
      if (!dragged || !column) return;
      event.preventDefault();
      if (column.contains(dragged)) { dragged = null; return; }
      var form = dragged.querySelector(".board-moves");
      if (form) post(form.getAttribute("action"), { to: column.dataset.value, version: dragged.dataset.version }, dragged);
      dragged = null;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".calendar").forEach(setupCalendar);
    document.querySelectorAll(".board").forEach(setupBoard);
  });
})();
