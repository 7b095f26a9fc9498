// Words, dates, times and numbers in the reader's language and time zone. Words come from
// Django's JavaScript catalogue (/jsi18n/, loaded by every page before its modules):
// gettext(), ngettext(), pgettext() and interpolate() are globals, in the page's language.
// Modules import them from here; should the catalogue be missing, the English text is shown
// as written.
//
// The language is the page's (<html lang>, which the server chose: the person's setting, else
// the browser's Accept-Language, else the organisation's default). The time zone is the
// person's own setting (<html data-time-zone>), else the browser's. Stored and exported times
// stay UTC ISO 8601; only what is shown changes.

window.gettext = window.gettext || ((text) => text);
window.ngettext = window.ngettext || ((singular, plural, count) => (count === 1 ? singular : plural));
window.pgettext = window.pgettext || ((context, text) => text);
window.interpolate = window.interpolate || ((text, values) =>
  text.replace(/%\((\w+)\)s/g, (_match, name) => String(values[name])));

export function gettext(text) {
  return window.gettext(text);
}

export function ngettext(singular, plural, count) {
  return window.ngettext(singular, plural, count);
}

/** gettext() with a context, for words that read differently by use ("Open" a room). */
export function pgettext(context, text) {
  return window.pgettext(context, text);
}

/** Fill "%(name)s" placeholders: format(gettext("%(name)s left"), {name}). */
export function format(text, values) {
  return window.interpolate(text, values, true);
}

const root = document.documentElement;

/** The BCP 47 tag for Intl: "ko", "zh-Hant", "en". */
export const locale = (() => {
  const lang = root.lang || "en";
  return lang.toLowerCase() === "zh-hant" ? "zh-Hant" : lang;
})();

/** The IANA zone to show times in, or undefined for the browser's own. */
export const timeZone = root.dataset.timeZone || undefined;

/** An Intl.DateTimeFormat in the reader's locale and zone. */
export function dateTimeFormat(options) {
  return new Intl.DateTimeFormat(locale, { ...options, timeZone });
}

/** An Intl.NumberFormat in the reader's locale. */
export function numberFormat(options) {
  return new Intl.NumberFormat(locale, options);
}

const numbers = numberFormat();

/** 12345 -> "12,345" as the reader writes numbers. */
export function formatNumber(value) {
  return numbers.format(value);
}
