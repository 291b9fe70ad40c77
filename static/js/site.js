// Site-wide behaviour: the header's menu on narrow screens, the theme switch, and
// announcing status changes of cards to screen readers.

// --- menu: on narrow screens the header's links fold behind a button ---------------
document.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-menu-toggle]");
  if (!toggle) return;
  const open = toggle.getAttribute("aria-expanded") !== "true";
  toggle.setAttribute("aria-expanded", String(open));
  document.getElementById(toggle.getAttribute("aria-controls")).classList.toggle("open", open);
});

// --- theme: system → light → dark → system ------------------------------------------
function themeLabel(button) {
  const chosen = document.documentElement.dataset.theme || "system";
  button.querySelector("[data-theme-name]").textContent = button.dataset["label" + chosen[0].toUpperCase() + chosen.slice(1)];
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-theme-switch]");
  if (!button) return;
  const order = ["system", "light", "dark"];
  const next = order[(order.indexOf(document.documentElement.dataset.theme || "system") + 1) % order.length];
  if (next === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = next;
  try {
    if (next === "system") localStorage.removeItem("theme");
    else localStorage.setItem("theme", next);
  } catch (error) { /* not remembered, still applied */ }
  themeLabel(button);
});

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("[data-theme-switch]")) themeLabel(button);
});

// --- status changes, announced -----------------------------------------------------
// Cards (any element with data-status and an id) are replaced in place by htmx. Before
// a swap we note each card's status; after it, a card whose status changed is read
// out through the page's polite live region, by its accessible name and new status.
const seenStatus = new Map();

function noteStatuses() {
  for (const card of document.querySelectorAll("[data-status][id]")) seenStatus.set(card.id, card.dataset.status);
}

function announce(text) {
  const region = document.getElementById("announcer");
  if (!region || !text) return;
  region.textContent = "";
  // A fresh text node after a tick is what makes every screen reader speak again.
  window.setTimeout(() => { region.textContent = text; }, 50);
}

document.addEventListener("DOMContentLoaded", noteStatuses);
document.addEventListener("htmx:afterSettle", () => {
  const changes = [];
  for (const card of document.querySelectorAll("[data-status][id]")) {
    const before = seenStatus.get(card.id);
    if (before !== undefined && before !== card.dataset.status) {
      const name = card.getAttribute("aria-label") || card.querySelector(".prompt")?.textContent.trim() || "";
      const words = document.getElementById("status-words")?.dataset || {};
      const status = words[card.dataset.status] || card.querySelector(".badge")?.textContent.trim() || card.dataset.status;
      changes.push(`${name}: ${status}`);
    }
  }
  noteStatuses();
  if (changes.length) announce(changes.join(". "));
});

// --- the Generate form: characters counted, chosen images previewed -----------------
function countPrompt() {
  const counter = document.getElementById("prompt-count");
  const prompt = document.querySelector("textarea[name=prompt]");
  if (!counter || !prompt) return;
  prompt.setAttribute("aria-describedby", "prompt-count");
  const count = [...prompt.value].length;  // characters, not UTF-16 units, as the server counts
  const max = Number(counter.dataset.max);
  const over = count > max;
  counter.textContent = counter.dataset.format.replace("{count}", count).replace("{max}", max) + (over ? ` · ${counter.dataset.over}` : "");
  if (over && !counter.classList.contains("over")) announce(counter.textContent);
  counter.classList.toggle("over", over);
}

document.addEventListener("input", (event) => {
  if (event.target.matches("textarea[name=prompt]")) countPrompt();
});
document.addEventListener("DOMContentLoaded", countPrompt);

const previewUrls = {};

function showPreview(input) {
  const box = document.getElementById("image-previews");
  if (!box) return;
  const name = input.name;
  box.querySelector(`[data-preview-for="${name}"]`)?.remove();
  if (previewUrls[name]) URL.revokeObjectURL(previewUrls[name]);
  delete previewUrls[name];
  const file = input.files && input.files[0];
  if (!file || !file.type.startsWith("image/")) return;
  previewUrls[name] = URL.createObjectURL(file);
  const figure = document.createElement("figure");
  figure.dataset.previewFor = name;
  const image = document.createElement("img");
  image.src = previewUrls[name];
  const label = box.dataset["label" + name[0].toUpperCase() + name.slice(1)] || name;
  image.alt = `${label}: ${file.name}`;
  const caption = document.createElement("figcaption");
  caption.textContent = `${label}: ${file.name}`;
  figure.append(image, caption);
  box.append(figure);
}

document.addEventListener("change", (event) => {
  if (event.target.matches("form.generate input[type=file]")) showPreview(event.target);
});
