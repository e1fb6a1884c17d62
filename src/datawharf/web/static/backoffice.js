// datawharf backoffice: the few in-place behaviours, in plain JavaScript (no build step, no CDN).
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// Copy buttons: <button data-copy-target="id"> copies the text of #id.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-target]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copyTarget);
  if (!source) return;
  const text = source.textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch (_error) {
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    document.execCommand("copy");
  }
  const status = document.getElementById(button.dataset.copyStatus || "");
  if (status) status.textContent = "Copied to the clipboard.";
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = "Copy"; }, 2000);
});

// Forms that ask first: <form data-confirm="Question?">.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// Header rows (name, value): add from the <template>, remove a row; focus follows for keyboard users.
let rowCounter = 1000;
document.addEventListener("click", (event) => {
  const add = event.target.closest("[data-add-row]");
  if (add) {
    const fieldset = add.closest("[data-header-rows]");
    const template = fieldset.querySelector("template[data-row-template]");
    const html = template.innerHTML.replaceAll("__N__", String(rowCounter++));
    const rows = fieldset.querySelector("[data-rows]");
    rows.insertAdjacentHTML("beforeend", html);
    rows.lastElementChild.querySelector("input").focus();
    return;
  }
  const remove = event.target.closest("[data-remove-row]");
  if (remove) {
    const fieldset = remove.closest("[data-header-rows]");
    remove.closest("[data-row]").remove();
    fieldset.querySelector("[data-add-row]").focus();
  }
});
