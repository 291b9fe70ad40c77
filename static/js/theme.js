// Light or dark: the system's choice unless the user picked one with the switch
// (remembered in this browser). Loaded in <head>, before the page paints, so it never
// flashes the other theme.
(function () {
  try {
    var chosen = localStorage.getItem("theme");
    if (chosen === "light" || chosen === "dark") document.documentElement.dataset.theme = chosen;
  } catch (error) { /* storage blocked: follow the system */ }
  document.documentElement.classList.add("js");
})();
