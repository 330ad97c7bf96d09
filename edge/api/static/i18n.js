// The page's words in English and Simplified Chinese: a dictionary per language, no library.
// Static text carries data-i18n (text), data-i18n-title and data-i18n-placeholder attributes;
// modules call t(key, {vars}) and re-render on the "languagechange" event of `document`.
import { WORDS } from "./words.js";

const STORE_KEY = "fieldkit.lang";
export const LANGUAGES = { en: "English", zh: "中文" };

let current = pick();

function pick() {
  const stored = localStorage.getItem(STORE_KEY);
  if (stored && stored in LANGUAGES) return stored;
  return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en";
}

export function lang() {
  return current;
}

// The text for `key` in the current language (English if it has none), with {name} filled from `vars`.
export function t(key, vars = {}) {
  const text = (WORDS[current] && WORDS[current][key]) ?? WORDS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (all, name) => (name in vars ? String(vars[name]) : all));
}

export function translate(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of root.querySelectorAll("[data-i18n-label]")) node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
  document.title = t("page.title");
}

export function setLanguage(code) {
  if (!(code in LANGUAGES) || code === current) return;
  current = code;
  localStorage.setItem(STORE_KEY, code);
  translate();
  document.dispatchEvent(new CustomEvent("languagechange", { detail: code }));
}

// A <select> in the header that switches the language.
export function languagePicker(select) {
  select.replaceChildren(...Object.entries(LANGUAGES).map(([code, name]) => {
    const option = document.createElement("option");
    option.value = code;
    option.textContent = name;
    return option;
  }));
  select.value = current;
  select.addEventListener("change", () => setLanguage(select.value));
  document.addEventListener("languagechange", () => { select.value = current; });
}
