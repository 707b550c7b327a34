// The left pane: the hierarchy tree, expanded a level at a time through the search API
// (`path`, OneLevel expansion), each node with its cumulativeInstanceCount, instances listed
// under their node; the search box with suggestions (suggest API) and its matches (search
// API, recursive).

import { post } from './api.js';
import { el, highlighted, status } from './dom.js';

const PAGE = 100;
const SEARCH = 'timeseries/instances/search';

export class Tree {
  /** `onPick(hit, path)`: an instance was picked; `path` is the node it was listed under. */
  constructor(onPick) {
    this.list = document.getElementById('tree');
    this.matches = document.getElementById('matches');
    this.onPick = onPick;
    this.searchString = '';
    this.setUpSearchBox();
  }

  /** A search body: the instances directly at `path` and/or its child nodes. */
  body(path, { instances, nodes, recursive = false }) {
    const body = { searchString: this.searchString };
    if (path) body.path = path;
    if (instances) {
      body.instances = { recursive, sort: { by: recursive ? 'Rank' : 'DisplayName' }, highlights: false, pageSize: PAGE };
    }
    if (nodes) body.hierarchies = { expand: { kind: 'OneLevel' }, sort: { by: 'Name' }, pageSize: PAGE };
    return body;
  }

  /** The tree's first level for `searchString` (counts follow the search), and its matches. */
  async load(searchString) {
    this.searchString = searchString;
    const answer = await post(SEARCH, this.body(null, { instances: true, nodes: true }));
    this.list.replaceChildren();
    this.addNodes(this.list, [], answer.hierarchyNodes);
    // At the root, the instances listed are those in no hierarchy.
    const loose = answer.instances || { hits: [] };
    if (loose.hits.length > 0) {
      const group = this.nodeItem('(no hierarchy)', loose.hitCount ?? loose.hits.length, null);
      this.addInstances(group.querySelector('ul'), null, loose);
      group.dataset.loaded = '1';
      this.list.append(group);
    }
    if (this.list.children.length === 0) this.list.append(el('li', 'note', 'No instances.'));
    await this.showMatches();
  }

  /** With a search string: the matching instances, best first. */
  async showMatches() {
    this.matches.replaceChildren();
    this.matches.hidden = this.searchString === '';
    if (this.matches.hidden) return;
    const answer = await post(SEARCH, this.body(null, { instances: true, recursive: true }));
    const count = answer.instances.hitCount ?? answer.instances.hits.length;
    this.matches.append(el('h2', '', `${count} matching instance${count === 1 ? '' : 's'}`));
    const list = el('ul', 'tree');
    this.addInstances(list, null, answer.instances, true);
    this.matches.append(list);
  }

  nodeItem(name, count, path) {
    const item = el('li', 'node');
    if (path) item.dataset.path = JSON.stringify(path);
    const row = el('div', 'row');
    const toggle = el('span', 'toggle', '▸');
    row.append(toggle, el('span', 'name', name), el('span', 'count', count.toLocaleString('en')));
    const children = el('ul');
    children.hidden = true;
    item.append(row, children);
    row.addEventListener('click', async () => {
      if (!item.dataset.loaded) {
        item.dataset.loaded = 'loading';
        try {
          const answer = await post(SEARCH, this.body(path, { instances: true, nodes: true }));
          this.addNodes(children, path, answer.hierarchyNodes);
          this.addInstances(children, path, answer.instances);
          item.dataset.loaded = '1';
        } catch (e) {
          delete item.dataset.loaded;
          status(`Could not expand ${name}: ${e.message}`, true);
          return;
        }
      }
      children.hidden = !children.hidden;
      toggle.textContent = children.hidden ? '▸' : '▾';
      item.classList.toggle('open', !children.hidden);
    });
    return item;
  }

  /** Child nodes of `path` (the hierarchies at the root), and a "more" row for the next page. */
  addNodes(list, path, nodes) {
    if (!nodes) return;
    for (const node of nodes.hits) {
      list.append(this.nodeItem(node.name, node.cumulativeInstanceCount, [...path, node.name]));
    }
    if (nodes.continuationToken) {
      list.append(this.moreItem('more nodes…', async () => {
        const next = await post(SEARCH, this.body(path.length ? path : null, { nodes: true }), nodes.continuationToken);
        this.addNodes(list, path, next.hierarchyNodes);
      }));
    }
  }

  /** Instances listed at `path`, and a "more" row for the next page. */
  addInstances(list, path, instances, recursive = false) {
    if (!instances) return;
    for (const hit of instances.hits) {
      const item = el('li', 'instance');
      item.dataset.twin = hit.timeSeriesId.join(',');
      const row = el('div', 'row', hit.name || hit.timeSeriesId.join(', '));
      row.addEventListener('click', () => {
        for (const picked of document.querySelectorAll('.instance.picked')) picked.classList.remove('picked');
        item.classList.add('picked');
        this.onPick(hit, path);
      });
      item.append(row);
      list.append(item);
    }
    if (instances.continuationToken) {
      list.append(this.moreItem('more instances…', async () => {
        const next = await post(SEARCH, this.body(path, { instances: true, recursive }), instances.continuationToken);
        this.addInstances(list, path, next.instances, recursive);
      }));
    }
  }

  moreItem(text, load) {
    const item = el('li', 'more');
    const row = el('div', 'row', text);
    row.addEventListener('click', async () => {
      try {
        await load();
        item.remove();
      } catch (e) {
        status(`Could not load more: ${e.message}`, true);
      }
    });
    item.append(row);
    return item;
  }

  /** The search box: suggestions as the user types; Enter or a suggestion searches. */
  setUpSearchBox() {
    const input = document.getElementById('search');
    const list = document.getElementById('suggestions');
    let timer = null;
    let asked = 0;
    const search = (text) => {
      list.hidden = true;
      this.load(text.trim()).catch((e) => status(`Search failed: ${e.message}`, true));
    };
    input.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const text = input.value.trim();
        const mine = ++asked;
        if (!text) {
          list.hidden = true;
          return;
        }
        try {
          const answer = await post('timeseries/instances/suggest', { searchString: text, take: 8 });
          if (mine !== asked) return;
          list.replaceChildren(
            ...answer.suggestions.map((s) => {
              const item = el('li');
              item.append(highlighted(s.highlightedSearchString || s.searchString));
              item.addEventListener('mousedown', (event) => {
                event.preventDefault();
                input.value = s.searchString;
                search(s.searchString);
              });
              return item;
            }),
          );
          list.hidden = answer.suggestions.length === 0;
        } catch (e) {
          status(`Suggestions failed: ${e.message}`, true);
        }
      }, 150);
    });
    input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') search(input.value);
      if (event.key === 'Escape') list.hidden = true;
    });
    input.addEventListener('search', () => input.value === '' && search(''));
    input.addEventListener('blur', () => setTimeout(() => (list.hidden = true), 100));
  }
}
