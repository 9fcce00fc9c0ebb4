// The report designer: a changed choice previews the draft at once (the form works without this too).
(function () {
  "use strict";
  var form = document.querySelector("form[data-designer]");
  if (!form) { return; }
  var timer = null;
  function preview() {
    var button = form.querySelector("[data-preview]");
    if (form.requestSubmit && button) { form.requestSubmit(button); } else { form.submit(); }
  }
  form.addEventListener("change", function (event) {
    var target = event.target;
    if (!target || target.tagName !== "SELECT" && target.type !== "checkbox") { return; }
    if (target.name === "replace") { return; }
    window.clearTimeout(timer);
    timer = window.setTimeout(preview, 150);
  });
})();
