// The gallery's, detail page's and project pages' behaviour beyond plain HTML: every
// feature here is an extra, the pages work with their forms and links alone.
(function () {
  "use strict";

  var FINISHED = { completed: true, failed: true, cancelled: true };

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  // Django's JavaScript catalog (loaded by base.html) translates; without it, English.
  var gettext = window.gettext || function (message) { return message; };
  var ngettext = window.ngettext || function (one, many, n) { return n === 1 ? one : many; };
  var interpolate = window.interpolate || function (format, values) {
    return format.replace(/%s/g, function () { return values.shift(); });
  };

  // Filters apply as soon as they change; the search box after a short pause.
  function setUpFilters() {
    var form = document.querySelector("form[data-apply-on-change]");
    if (!form) return;
    var button = form.querySelector("[data-apply-button]");
    if (button) button.hidden = true;
    var timer = null;
    form.addEventListener("change", function () { form.requestSubmit ? form.requestSubmit() : form.submit(); });
    form.addEventListener("input", function (event) {
      if (event.target.type !== "search") return;
      clearTimeout(timer);
      timer = setTimeout(function () { form.requestSubmit ? form.requestSubmit() : form.submit(); }, 500);
    });
  }

  // Bulk selection: "select all", a count, a confirmation for delete, and the
  // choice kept while the poller swaps cards.
  var selected = new Set();
  function refreshSelection() {
    document.querySelectorAll("input[name=items][form=bulk]").forEach(function (box) {
      box.checked = selected.has(box.value);
    });
    var count = document.querySelector("[data-selected-count]");
    if (count) count.textContent = selected.size ? interpolate(ngettext("%s selected", "%s selected", selected.size), [selected.size]) : "";
  }
  function setUpBulk() {
    var bulk = document.getElementById("bulk");
    if (!bulk) return;
    document.addEventListener("change", function (event) {
      var box = event.target;
      if (box.matches("input[name=items][form=bulk]")) {
        if (box.checked) selected.add(box.value); else selected.delete(box.value);
        refreshSelection();
      } else if (box.matches("[data-select-all]")) {
        document.querySelectorAll("input[name=items][form=bulk]").forEach(function (item) {
          if (box.checked) selected.add(item.value); else selected.delete(item.value);
        });
        refreshSelection();
      }
    });
    bulk.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (!selected.size) {
        event.preventDefault();
        toast(gettext("Select some videos first."), "info");
        return;
      }
      if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  }

  // Toasts, the tab title and (if allowed) a notification when a video finishes.
  var finishedCount = 0;
  var baseTitle = document.title;
  var statuses = {};
  function rememberStatuses() {
    document.querySelectorAll("article.card[data-status]").forEach(function (card) {
      statuses[card.id] = card.dataset.status;
    });
  }
  function toast(message, kind) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var item = document.createElement("div");
    item.className = "toast " + (kind || "");
    item.setAttribute("role", kind === "error" ? "alert" : "status");
    item.textContent = message;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "link";
    close.setAttribute("aria-label", gettext("Close"));
    close.textContent = "×";
    close.addEventListener("click", function () { item.remove(); });
    item.appendChild(close);
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, 8000);
  }
  function announceFinished() {
    document.querySelectorAll("article.card[data-status]").forEach(function (card) {
      var before = statuses[card.id];
      var now = card.dataset.status;
      if (before && !FINISHED[before] && (now === "completed" || now === "failed")) {
        var prompt = card.dataset.prompt || "";
        var message = interpolate(now === "completed" ? gettext("Finished: %s") : gettext("Failed: %s"), [prompt]);
        toast(message, now === "completed" ? "ok" : "error");
        finishedCount += 1;
        document.title = "(" + finishedCount + ") " + baseTitle;
        if (window.Notification && Notification.permission === "granted" && document.hidden) {
          try { new Notification("VideoPlanet", { body: message }); } catch (e) { /* not on this browser */ }
        }
      }
    });
    rememberStatuses();
  }
  function setUpNotifications() {
    var ask = document.querySelector("[data-ask-notifications]");
    if (!ask || !window.Notification || Notification.permission !== "default") return;
    ask.hidden = false;
    ask.addEventListener("click", function () {  // asked on a click, as browsers require
      Notification.requestPermission().then(function () { ask.hidden = true; });
    });
  }
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { finishedCount = 0; document.title = baseTitle; }
  });

  // Cards play muted while the pointer rests on them.
  function setUpHoverPlay() {
    document.addEventListener("mouseover", function (event) {
      var card = event.target.closest && event.target.closest("article.card");
      var video = card && card.querySelector("video");
      if (!video || video.dataset.hovering || !video.paused) return;
      video.dataset.hovering = "1";
      video.muted = true;
      var playing = video.play();
      if (playing && playing.catch) playing.catch(function () {});
    });
    document.addEventListener("mouseout", function (event) {
      var card = event.target.closest && event.target.closest("article.card");
      if (!card || (event.relatedTarget && card.contains(event.relatedTarget))) return;
      var video = card.querySelector("video");
      if (video && video.dataset.hovering) { delete video.dataset.hovering; video.pause(); }
    });
  }

  // The lightbox: one video large, previous/next through the page's finished videos,
  // arrow keys and Escape.
  function setUpLightbox() {
    var box = document.getElementById("lightbox");
    if (!box) return;
    var video = box.querySelector("video");
    var caption = box.querySelector("[data-lightbox-caption]");
    var details = box.querySelector("[data-lightbox-details]");
    var current = -1;
    function cards() { return Array.prototype.slice.call(document.querySelectorAll("article.card[data-video]")); }
    function show(index) {
      var all = cards();
      if (!all.length) return;
      current = (index + all.length) % all.length;
      var card = all[current];
      video.src = card.dataset.video;
      caption.textContent = card.dataset.prompt || "";
      details.href = card.dataset.detail;
      if (!box.open) box.showModal();
      var playing = video.play();
      if (playing && playing.catch) playing.catch(function () {});
    }
    document.addEventListener("click", function (event) {
      var opener = event.target.closest("[data-lightbox-open]");
      if (opener) { show(cards().indexOf(opener.closest("article.card"))); return; }
      var control = event.target.closest("[data-lightbox]");
      if (!control) return;
      if (control.dataset.lightbox === "next") show(current + 1);
      if (control.dataset.lightbox === "prev") show(current - 1);
      if (control.dataset.lightbox === "close") box.close();
    });
    box.addEventListener("keydown", function (event) {
      if (event.key === "ArrowRight") { event.preventDefault(); show(current + 1); }
      if (event.key === "ArrowLeft") { event.preventDefault(); show(current - 1); }
    });
    box.addEventListener("close", function () { video.pause(); video.removeAttribute("src"); video.load(); });
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
        .then(function () { window.location.reload(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    rememberStatuses();
    setUpFilters();
    setUpBulk();
    setUpNotifications();
    setUpHoverPlay();
    setUpLightbox();
    setUpSlotDragging();
  });
  // After every htmx swap (the poller's cards, a rating or favourite pressed):
  // announce what finished and keep the selection.
  var pending = null;
  function afterSwap() {
    clearTimeout(pending);
    pending = setTimeout(function () { announceFinished(); refreshSelection(); }, 0);
  }
  document.addEventListener("htmx:oobAfterSwap", afterSwap);
  document.addEventListener("htmx:afterSettle", afterSwap);
})();
