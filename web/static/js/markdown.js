// Light markdown, rendered safely. The text is never parsed as HTML: it is split into tokens
// and every piece becomes a text node (the "escape first" of the rule), then a tiny whitelist
// adds structure: **bold**, *italic*, `code`, [text](http(s) link), bare http(s) URLs, and
// line breaks. Links open in a new tab with rel="noopener noreferrer"; any other scheme
// (javascript:, data:) stays plain text.

const TOKEN = new RegExp(
  [
    "`([^`\\n]+)`", // 1 code
    "\\*\\*(?=\\S)(.*?\\S)\\*\\*", // 2 bold (may hold italic)
    "\\*(?=\\S)([^*\\n]*?\\S)\\*", // 3 italic
    "\\[([^\\]\\n]+)\\]\\((https?:\\/\\/[^\\s)]+)\\)", // 4 text, 5 url
    "(https?:\\/\\/[^\\s<>\"']+[^\\s<>\"'.,;:!?)\\]])", // 6 bare url
  ].join("|"),
  "g",
);

function link(href, text) {
  let url;
  try {
    url = new URL(href);
  } catch {
    return document.createTextNode(text);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return document.createTextNode(text);
  const anchor = document.createElement("a");
  anchor.href = url.href;
  anchor.target = "_blank";
  anchor.rel = "noopener noreferrer";
  anchor.textContent = text;
  return anchor;
}

function inline(text, into, depth = 0) {
  let position = 0;
  for (const match of text.matchAll(TOKEN)) {
    if (match.index > position) into.append(text.slice(position, match.index));
    const [whole, code, bold, italic, linkText, linkUrl, bareUrl] = match;
    if (code !== undefined) {
      const element = document.createElement("code");
      element.textContent = code;
      into.append(element);
    } else if (bold !== undefined || italic !== undefined) {
      const element = document.createElement(bold !== undefined ? "strong" : "em");
      if (depth < 2) inline(bold ?? italic, element, depth + 1);
      else element.textContent = bold ?? italic;
      into.append(element);
    } else if (linkText !== undefined) {
      into.append(link(linkUrl, linkText));
    } else if (bareUrl !== undefined) {
      into.append(link(bareUrl, bareUrl));
    } else {
      into.append(whole);
    }
    position = match.index + whole.length;
  }
  if (position < text.length) into.append(text.slice(position));
}

/** Return a DocumentFragment for a message body. */
export function renderMarkdown(body) {
  const fragment = document.createDocumentFragment();
  String(body).split("\n").forEach((line, index) => {
    if (index > 0) fragment.append(document.createElement("br"));
    inline(line, fragment);
  });
  return fragment;
}

/** Return a DocumentFragment for a search highlight: escaped text with <mark> around hits.
 *  The server escapes the text; only the <mark> tags are structure, so this takes them out
 *  and turns everything else back into plain text nodes. */
export function renderHighlight(highlight) {
  const fragment = document.createDocumentFragment();
  const unescape = (text) => text
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, "\"")
    .replace(/&#x27;/g, "'").replace(/&#39;/g, "'").replace(/&amp;/g, "&");
  String(highlight).split(/(<mark>.*?<\/mark>)/s).forEach((part) => {
    if (part.startsWith("<mark>") && part.endsWith("</mark>")) {
      const mark = document.createElement("mark");
      mark.textContent = unescape(part.slice(6, -7));
      fragment.append(mark);
    } else if (part) {
      fragment.append(unescape(part));
    }
  });
  return fragment;
}
