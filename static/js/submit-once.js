// A form marked data-submit-once is sent once: its buttons are disabled while the page
// submits, and a second press (or Enter) before the next page arrives does nothing.
// The server does not rely on this: the form's one-time key makes one job regardless.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!form.matches("[data-submit-once]")) return;
  if (form.dataset.submitting) {
    event.preventDefault();
    return;
  }
  form.dataset.submitting = "true";
  for (const button of form.querySelectorAll("button[type=submit], button:not([type])")) {
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
  }
});

// Coming back to the page (the browser's back button keeps it as it was): usable again.
window.addEventListener("pageshow", () => {
  for (const form of document.querySelectorAll("form[data-submit-once][data-submitting]")) {
    delete form.dataset.submitting;
    for (const button of form.querySelectorAll("button[disabled][aria-busy]")) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    }
  }
});
