// Calls to the server's TSI API. Every call carries `api-version`; a body goes as
// application/json (the server refuses other types); the token, once the user gave it, as
// `Authorization: Bearer` from sessionStorage (kept for the tab only). A 401 asks for the
// token and tries again.

const API_VERSION = '2020-07-31';
const TOKEN_KEY = 'twinstore.token';

/** An error answer: TSI's `{"error": {"code", "message"}}` and the status. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(`${status} ${error.code || ''}: ${error.message || JSON.stringify(body)}`);
    this.status = status;
    this.code = error.code;
  }
}

let asking = null;

/** Shows the token form until the user submits; one form for all the calls refused. */
function askForToken(refusedToken) {
  if (!asking) {
    asking = new Promise((resolve) => {
      const dialog = document.getElementById('token-dialog');
      const input = document.getElementById('token-input');
      document.getElementById('token-message').textContent = refusedToken
        ? 'The server refused that token. Token:'
        : 'This server needs its token (twinstore serve --token).';
      input.value = '';
      dialog.addEventListener(
        'close',
        () => {
          sessionStorage.setItem(TOKEN_KEY, input.value);
          asking = null;
          resolve();
        },
        { once: true },
      );
      dialog.showModal();
      input.focus();
    });
  }
  return asking;
}

/**
 * Calls `method path` (relative to the page, so that a server mounted under a prefix
 * works) with `body` (JSON) and the continuation token `continuation`; returns the JSON
 * answer, throws ApiError.
 */
export async function call(method, path, body, continuation) {
  for (;;) {
    const headers = {};
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (continuation) headers['x-ms-continuation'] = continuation;
    const response = await fetch(`${path}?api-version=${API_VERSION}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      await askForToken(token);
      continue;
    }
    const text = await response.text();
    let json;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = { error: { code: 'NotJson', message: text.slice(0, 200) } };
    }
    if (!response.ok) throw new ApiError(response.status, json);
    return json;
  }
}

export const get = (path, continuation) => call('GET', path, undefined, continuation);
export const post = (path, body, continuation) => call('POST', path, body, continuation);

/** Every item of a paged list (`GET /timeseries/types` and the like) under `key`. */
export async function allPages(path, key) {
  const items = [];
  let token = null;
  do {
    const page = await get(path, token);
    items.push(...(page[key] || []));
    token = page.continuationToken || null;
  } while (token);
  return items;
}

/** A TSI query (`POST timeseries/query`), one page. */
export const query = (body, continuation) => post('timeseries/query', body, continuation);
