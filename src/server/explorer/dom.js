// Small DOM helpers. Text from the server always goes in as text, never as markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An HTML element with a class and text. */
export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

/** An SVG element with attributes. */
export function svg(tag, attributes = {}) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attributes)) e.setAttribute(k, String(v));
  return e;
}

/** A button that runs `action` on click. */
export function button(text, action, title) {
  const b = el('button', '', text);
  b.type = 'button';
  if (title) b.title = title;
  b.addEventListener('click', (event) => {
    event.stopPropagation();
    action(event);
  });
  return b;
}

/**
 * `text` with TSI's `<hit>` and `</hit>` highlight marks shown as bold spans; the rest, and
 * the marked words, as text.
 */
export function highlighted(text) {
  const span = el('span');
  String(text)
    .split(/(<hit>.*?<\/hit>)/)
    .forEach((part) => {
      const hit = /^<hit>(.*)<\/hit>$/.exec(part);
      span.append(hit ? el('span', 'hit', hit[1]) : document.createTextNode(part));
    });
  return span;
}

/** Shows `message` in the status line (an error in red). */
export function status(message, isError = false) {
  const line = document.getElementById('status');
  line.textContent = message;
  line.classList.toggle('error', isError);
}
