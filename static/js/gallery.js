// The gallery's and project pages' behaviour beyond plain HTML. Every feature here is
// an extra: the pages work with their forms and links alone.
(function () {
  "use strict";

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  // Projects: drag a slot onto another to put it there; the up/down buttons do the
  // same without JavaScript.
  function setUpSlotDragging() {
    var list = document.querySelector("ol.slots[data-reorder-url]");
    if (!list) return;
    var dragged = null;
    list.addEventListener("dragstart", function (event) {
      dragged = event.target.closest("li.slot");
      if (!dragged) return;
      dragged.classList.add("dragging");
      event.dataTransfer.effectAllowed = "move";
      event.dataTransfer.setData("text/plain", dragged.dataset.slot);
    });
    list.addEventListener("dragover", function (event) {
      var over = event.target.closest("li.slot");
      if (!dragged || !over || over === dragged) return;
      event.preventDefault();
      list.querySelectorAll(".drop-target").forEach(function (el) { el.classList.remove("drop-target"); });
      over.classList.add("drop-target");
    });
    list.addEventListener("dragend", function () {
      list.querySelectorAll(".dragging, .drop-target").forEach(function (el) { el.classList.remove("dragging", "drop-target"); });
      dragged = null;
    });
    list.addEventListener("drop", function (event) {
      var over = event.target.closest("li.slot");
      if (!dragged || !over || over === dragged) return;
      event.preventDefault();
      var slots = Array.prototype.slice.call(list.children);
      if (slots.indexOf(dragged) < slots.indexOf(over)) over.after(dragged); else over.before(dragged);
      var order = Array.prototype.map.call(list.children, function (li) { return li.dataset.slot; });
      var body = new URLSearchParams({ order: order.join(","), csrfmiddlewaretoken: csrfToken() });
      fetch(list.dataset.reorderUrl, { method: "POST", body: body, headers: { "HX-Request": "true" }, credentials: "same-origin" })
        .then(function (response) { window.location.reload(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpSlotDragging();
  });
})();
