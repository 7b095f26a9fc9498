// Translatable strings: every text the pages show goes through gettext() (and ngettext() for
// counts). When the page loads Django's JavaScript catalog these are its functions; until then
// the English text is shown as written.

window.gettext = window.gettext || ((text) => text);
window.ngettext = window.ngettext || ((singular, plural, count) => (count === 1 ? singular : plural));
window.interpolate = window.interpolate || ((format, values) =>
  format.replace(/%\((\w+)\)s/g, (_, name) => String(values[name])));

export function gettext(text) {
  return window.gettext(text);
}

export function ngettext(singular, plural, count) {
  return window.ngettext(singular, plural, count);
}

/** Fill "%(name)s" placeholders: format(gettext("%(name)s left"), {name}). */
export function format(text, values) {
  return window.interpolate(text, values, true);
}
