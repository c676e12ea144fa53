// Crosstie dashboard: live updates over server-sent events and instant portal validation.
// The server re-checks everything; this only saves a round trip.
"use strict";

function reloadMain() {
  fetch(location.href, { headers: { accept: "text/html" } })
    .then((r) => (r.ok ? r.text() : null))
    .then((text) => {
      if (!text) return;
      const next = new DOMParser().parseFromString(text, "text/html").getElementById("main");
      const main = document.getElementById("main");
      if (next && main) main.innerHTML = next.innerHTML;
    });
}

function liveUpdates() {
  // Pages with a form being filled in are not refreshed under the user's hands.
  if (document.querySelector("form.portal")) return;
  const events = new EventSource("/events");
  events.addEventListener("changed", reloadMain);
}

function check(input) {
  const v = input.value.trim();
  if (input.required && v === "") return "is required";
  if (v === "") return "";
  if (input.type === "number") {
    const n = Number(v);
    if (Number.isNaN(n)) return "must be a number";
    if (input.step === "1" && !Number.isInteger(n)) return "must be a whole number";
    if (input.min !== "" && n < Number(input.min)) return "must be at least " + input.min;
    if (input.max !== "" && n > Number(input.max)) return "must be at most " + input.max;
  }
  if (input.tagName === "TEXTAREA") {
    const items = v.split(/[\n,]/).map((s) => s.trim()).filter((s) => s);
    const min = input.dataset.minItems, max = input.dataset.maxItems;
    if (min && items.length < Number(min)) return "needs at least " + min + " item(s), one per line";
    if (max && items.length > Number(max)) return "takes at most " + max + " item(s)";
  }
  // Unanchored, as OpenAPI (and the server) read schema patterns.
  const pattern = input.dataset.pattern;
  if (pattern && !new RegExp(pattern).test(v)) return "must match " + pattern;
  return "";
}

function portal(form) {
  const show = (input) => {
    const msg = form.querySelector('.msg[data-for="' + CSS.escape(input.name) + '"]');
    const text = check(input);
    if (msg) msg.textContent = text;
    return text === "";
  };
  let timer;
  const preview = () => {
    const body = new URLSearchParams(new FormData(form));
    body.set("intent", "preview");
    fetch(form.dataset.preview, { method: "POST", body })
      .then((r) => r.text())
      .then((text) => {
        const next = new DOMParser().parseFromString(text, "text/html").getElementById("preview");
        if (next) document.getElementById("preview").textContent = next.textContent;
      });
  };
  form.addEventListener("input", (e) => {
    if (e.target.name) show(e.target);
    clearTimeout(timer);
    timer = setTimeout(preview, 300);
  });
  form.addEventListener("submit", (e) => {
    const inputs = Array.from(form.querySelectorAll("input[name], select[name], textarea[name]"))
      .filter((i) => i.type !== "hidden");
    if (!inputs.map(show).every(Boolean)) e.preventDefault();
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("form.portal");
  if (form) {
    form.noValidate = true; // our messages, not the browser's bubbles
    portal(form);
  }
  liveUpdates();
});
