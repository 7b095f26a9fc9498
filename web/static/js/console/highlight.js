// The archive search's highlight (the body as escaped HTML with the query's words in <mark>)
// as DOM built from text: <mark> and </mark> open and close marked ranges, entities are decoded
// into characters, and anything else (a tag that is not <mark>) stays visible as text.

import { h } from "../dom.js";

const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'", nbsp: "\u00a0" };

function decodeEntities(text) {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name) => {
    if (name[0] === "#") {
      const code = name[1].toLowerCase() === "x" ? parseInt(name.slice(2), 16)
        : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

/** Text and <mark> nodes from the highlight; any other markup stays visible as text. */
export function highlightNodes(highlight, body) {
  if (typeof highlight !== "string" || !highlight) return [body || ""];
  const nodes = [];
  let isMarked = false;
  for (const part of highlight.split(/(<mark>|<\/mark>)/)) {
    if (part === "<mark>") isMarked = true;
    else if (part === "</mark>") isMarked = false;
    else if (part) {
      const text = decodeEntities(part);
      nodes.push(isMarked ? h("mark", {}, text) : text);
    }
  }
  return nodes;
}

