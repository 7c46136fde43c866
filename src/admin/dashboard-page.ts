/**
 * The dashboard: one static page that polls /debug/dashboard every second. Every value from the
 * cluster is user input, so it reaches the page through textContent only, never as HTML.
 *
 * Built to stay quick with thousands of routes: a view's rows are rebuilt only when its data
 * changed, and the search box and the problems filter only hide and show rows (each row keeps its
 * lower-cased text), so typing never rebuilds the page.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Portico</title>
<style>
  * { box-sizing: border-box; }
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1d232a; background: #f6f7f9; }
  header { background: #1f2a37; color: #f3f5f7; padding: .9rem 1.5rem 1rem; }
  header h1 { font-size: 1.25rem; margin: 0; display: inline; } header .meta { color: #b7c0cb; margin-left: .8rem; }
  .cards { display: flex; flex-wrap: wrap; gap: .6rem; margin-top: .8rem; }
  .card { background: #2b3846; border-radius: 6px; padding: .4rem .8rem; min-width: 7.5rem; }
  .card b { display: block; font-size: 1.2rem; } .card span { color: #b7c0cb; font-size: 12px; }
  nav { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; padding: .7rem 1.5rem; background: #fff; border-bottom: 1px solid #e3e6ea; position: sticky; top: 0; }
  nav a { padding: .3rem .7rem; border-radius: 5px; color: #1d232a; text-decoration: none; }
  nav a.active { background: #e7eef8; color: #0b57d0; font-weight: 600; }
  nav input[type=search] { margin-left: auto; width: 22rem; max-width: 100%; padding: .35rem .6rem; border: 1px solid #c9ced6; border-radius: 5px; font: inherit; }
  nav label { color: #4b5563; }
  main { padding: 1rem 1.5rem 2rem; }
  h2 { font-size: 1.05rem; margin: .2rem 0 .6rem; } h3 { font-size: .95rem; margin: 1.2rem 0 .4rem; }
  table { border-collapse: collapse; width: 100%; background: #fff; table-layout: auto; }
  td, th { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid #e3e6ea; vertical-align: top; overflow-wrap: anywhere; }
  th { background: #eef1f4; font-weight: 600; white-space: nowrap; }
  tr.group td { background: #f3f5f8; font-weight: 600; }
  .muted { color: #68717c; } .bad { color: #b3261e; font-weight: 600; } .warn { color: #9a5b00; font-weight: 600; } .ok { color: #1b7f3b; }
  .badge { display: inline-block; border-radius: 999px; padding: 0 .55rem; font-size: 12px; font-weight: 600; }
  .badge.ok { background: #e3f4e8; color: #1b7f3b; } .badge.warn { background: #fdf0d9; color: #9a5b00; } .badge.bad { background: #fbe4e2; color: #b3261e; }
  .chip { display: inline-block; background: #eef1f4; border-radius: 4px; padding: 0 .35rem; margin: 0 .25rem .2rem 0; font: 12px ui-monospace, monospace; }
  a.host { color: #0b57d0; text-decoration: none; font-weight: 600; } a.host:hover { text-decoration: underline; }
  code, .mono { font: 12.5px ui-monospace, monospace; }
  [hidden] { display: none !important; }
</style>
</head>
<body>
<header>
  <h1>Portico</h1><span class="meta">version <span id="version">–</span> · up <span id="uptime">–</span> · table generation <span id="generation">–</span> · updated <span id="updated">never</span></span>
  <div class="cards">
    <div class="card"><b id="count-hosts">–</b><span>hosts</span></div>
    <div class="card"><b id="count-routes">–</b><span>routes</span></div>
    <div class="card"><b id="count-backends">–</b><span>backends</span> <span id="badge-backends"></span></div>
    <div class="card"><b id="count-endpoints">–</b><span>endpoints ready</span></div>
    <div class="card"><b id="count-diagnostics">–</b><span>diagnostics</span> <span id="badge-diagnostics"></span></div>
    <div class="card"><b id="count-certificates">–</b><span>certificates</span> <span id="badge-certificates"></span></div>
    <div class="card"><b id="request-rate">–</b><span>requests/s, last 10 s</span></div>
    <div class="card"><b id="error-rate">–</b><span>5xx, last 10 s</span></div>
  </div>
</header>
<nav>
  <a href="#hosts" data-view="hosts">Hosts</a><a href="#backends" data-view="backends">Backends</a><a href="#certificates" data-view="certificates">Certificates</a><a href="#diagnostics" data-view="diagnostics">Diagnostics</a>
  <input type="search" id="search" placeholder="Filter: host, path, Ingress, backend, pod, code…" autocomplete="off">
  <label><input type="checkbox" id="problems"> problems only</label>
</nav>
<main>
  <section id="view-hosts"><h2>Hosts</h2>
    <table><thead><tr><th>Host</th><th>Status</th><th>Routes</th><th>TLS</th><th>Ingresses</th><th>Backends</th></tr></thead><tbody id="hosts"></tbody></table></section>
  <section id="view-host" hidden><a href="#hosts" class="muted">← all hosts</a><h2 id="host-title">Host</h2><div id="host-meta" class="muted"></div>
    <h3>Routes</h3>
    <table><thead><tr><th>Path</th><th>Type</th><th>Ingress</th><th>Goes to</th><th>Timeouts connect / send / read</th><th>Body limit</th><th>HTTPS</th><th>Other options</th></tr></thead><tbody id="host-routes"></tbody></table>
    <h3>Backends</h3>
    <table><thead><tr><th>Backend</th><th>Endpoint</th><th>Pod</th><th>State</th><th>Requests (last minute or two)</th><th>Error rate</th></tr></thead><tbody id="host-endpoints"></tbody></table></section>
  <section id="view-backends" hidden><h2>Backends and endpoints</h2>
    <table><thead><tr><th>Backend</th><th>Endpoint</th><th>Pod</th><th>State</th><th>Requests (last minute or two)</th><th>Error rate</th></tr></thead><tbody id="endpoints"></tbody></table></section>
  <section id="view-certificates" hidden><h2>Certificates</h2>
    <table><thead><tr><th>Host</th><th>Secret</th><th>Expires</th><th>Days left</th></tr></thead><tbody id="certificates"></tbody></table></section>
  <section id="view-diagnostics" hidden><h2>Diagnostics, by object</h2>
    <table><thead><tr><th>Severity</th><th>Code</th><th>Field</th><th>Message</th></tr></thead><tbody id="diagnostics"></tbody></table></section>
</main>
<script>
  const $ = (id) => document.getElementById(id);
  let data = null;
  const samples = [];
  const rendered = {};

  // A cell is text, [text, class], or a DOM node made here (links, chips); never HTML from data.
  function cell(tr, value) {
    const td = document.createElement('td');
    if (value instanceof Node) td.appendChild(value);
    else {
      const [text, cls] = Array.isArray(value) ? value : [value, ''];
      td.textContent = text === null || text === undefined || text === '' ? '–' : String(text);
      if (cls) td.className = cls;
    }
    tr.appendChild(td);
  }
  // rows: [{ cells, problem, group }]; each row keeps its text for the filter.
  function fill(id, rows) {
    const tbody = $(id);
    tbody.replaceChildren();
    if (rows.length === 0) rows = [{ cells: [['none', 'muted']], placeholder: true }];
    for (const r of rows) {
      const tr = document.createElement('tr');
      if (r.group) tr.className = 'group';
      for (const c of r.cells) cell(tr, c);
      if (r.group) tr.firstChild.colSpan = tbody.closest('table').tHead.rows[0].cells.length;
      tr.dataset.text = (r.key ?? tr.textContent).toLowerCase();
      if (r.problem) tr.dataset.problem = '1';
      if (r.member) tr.dataset.member = r.member;
      if (r.placeholder) tr.dataset.placeholder = '1';
      tbody.appendChild(tr);
    }
    applyFilter(tbody);
  }
  function link(host) {
    const a = document.createElement('a');
    a.className = 'host';
    a.href = '#host/' + encodeURIComponent(host);
    a.textContent = host;
    return a;
  }
  function chips(entries) {
    const span = document.createElement('span');
    for (const [k, v] of entries) {
      const c = document.createElement('span');
      c.className = 'chip';
      c.textContent = k + ': ' + v;
      span.appendChild(c);
    }
    if (entries.length === 0) { span.className = 'muted'; span.textContent = 'defaults'; }
    return span;
  }
  const badge = (text, cls) => { const b = document.createElement('span'); b.className = 'badge ' + cls; b.textContent = text; return b; };
  function setBadge(id, text, cls) { $(id).replaceChildren(text ? badge(text, cls) : ''); }
  const percent = (x) => (x * 100).toFixed(1) + ' %';
  function duration(s) {
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
    return d ? d + 'd ' + h + 'h' : h ? h + 'h ' + m + 'm' : m ? m + 'm ' + (s % 60) + 's' : s + 's';
  }
  const daysLeft = (iso) => Math.floor((Date.parse(iso) - Date.now()) / 86400000);

  // What every view needs to judge health: endpoints per backend, diagnostics per object.
  function indexes(d) {
    const backends = new Map(d.backends.map((b) => [b.id, b]));
    const diagnosticsOf = new Map();
    for (const x of d.diagnostics) diagnosticsOf.set(x.object, (diagnosticsOf.get(x.object) ?? 0) + 1);
    return { backends, diagnosticsOf };
  }
  function backendState(b) {
    if (!b) return ['unknown', 'bad'];
    const ready = b.endpoints.filter((e) => e.ready && !e.ejected).length;
    if (ready === 0) return ['no ready endpoints', 'bad'];
    if (b.endpoints.some((e) => e.ejected || e.errorRate > 0)) return ['degraded', 'warn'];
    return ['ok', 'ok'];
  }
  function hostState(h, ix) {
    let worst = ['ok', 'ok'];
    for (const r of h.routes) {
      if (r.to.kind === 'deny') return ['denied route', 'bad'];
      if (r.to.kind !== 'backend') continue;
      const s = backendState(ix.backends.get(r.to.text));
      if (s[1] === 'bad') return s;
      if (s[1] === 'warn') worst = s;
    }
    if (worst[1] === 'ok' && h.routes.some((r) => ix.diagnosticsOf.has('Ingress ' + r.ingress))) return ['diagnostics', 'warn'];
    return worst;
  }
  function endpointRows(backends) {
    return backends.flatMap((b) => b.endpoints.length === 0
      ? [{ cells: [b.id, ['no endpoints', 'bad'], '', '', '', ''], problem: true }]
      : b.endpoints.map((e) => ({
        cells: [b.id, e.address, e.pod, e.ejected ? ['ejected', 'bad'] : e.ready ? ['ready', 'ok'] : ['not ready', 'bad'], e.requests, [percent(e.errorRate), e.errorRate > 0 ? 'bad' : '']],
        problem: e.ejected || !e.ready || e.errorRate > 0,
      })));
  }

  const views = {
    hosts(d, ix) {
      fill('hosts', d.hosts.map((h) => {
        const s = hostState(h, ix);
        const ingresses = [...new Set(h.routes.map((r) => r.ingress))];
        const backends = [...new Set(h.routes.filter((r) => r.to.kind === 'backend').map((r) => r.to.text))];
        return { cells: [link(h.host), badge(s[0], s[1]), h.routes.length, h.tls ? 'yes' : '', ingresses.join(', '), backends.join(', ')], problem: s[1] !== 'ok', key: [h.host, s[0], ingresses.join(' '), backends.join(' '), h.routes.map((r) => r.path).join(' ')].join(' ') };
      }));
    },
    host(d, ix, name) {
      const h = d.hosts.find((x) => x.host === name);
      $('host-title').textContent = name;
      if (!h) { $('host-meta').textContent = 'not in the current table'; fill('host-routes', []); fill('host-endpoints', []); return; }
      const cert = d.certificates.find((c) => c.host === name);
      $('host-meta').textContent = [h.regexMode ? 'regex paths (use-regex)' : 'prefix and exact paths', h.tls ? (cert && cert.usable ? 'TLS: ' + cert.secret + ', ' + daysLeft(cert.notAfter) + ' days left' : 'TLS: Secret unusable, default certificate served') : 'no TLS', h.appRoot ? 'app-root ' + h.appRoot : ''].filter(Boolean).join(' · ');
      fill('host-routes', h.routes.map((r) => {
        const to = r.to.kind === 'backend' ? (r.to.canary ? r.to.text + ' (canary ' + r.to.canary + ')' : r.to.text) : r.to.kind === 'redirect' ? ['redirect ' + r.to.text, 'warn'] : ['503: ' + r.to.text, 'bad'];
        return { cells: [r.path, r.pathType, r.ingress, to, r.timeouts, r.bodyLimit, r.https, chips(Object.entries(r.options))], problem: r.to.kind === 'deny' };
      }));
      const ids = [...new Set(h.routes.filter((r) => r.to.kind === 'backend').flatMap((r) => [r.to.text, r.to.canary]).filter(Boolean))];
      fill('host-endpoints', endpointRows(ids.map((id) => ix.backends.get(id) ?? { id, endpoints: [] })));
    },
    backends(d) { fill('endpoints', endpointRows(d.backends)); },
    certificates(d) {
      const rows = d.certificates.map((c) => {
        const days = c.usable ? daysLeft(c.notAfter) : null;
        const cls = days === null || days < 0 ? 'bad' : days < 14 ? 'warn' : 'ok';
        return { cells: [link(c.host), c.usable ? c.secret : ['unusable: default certificate served', 'bad'], c.notAfter, [days === null ? '' : days < 0 ? 'expired' : days, cls]], problem: cls !== 'ok' };
      });
      if (d.defaultCertificate) {
        const days = daysLeft(d.defaultCertificate.notAfter);
        rows.unshift({ cells: [['(default certificate)', 'muted'], d.defaultCertificate.secret ?? 'generated at start (self-signed)', d.defaultCertificate.notAfter, [days < 0 ? 'expired' : days, days < 0 ? 'bad' : days < 14 ? 'warn' : 'ok']], problem: days < 14 });
      }
      fill('certificates', rows);
    },
    diagnostics(d) {
      const groups = new Map();
      for (const x of d.diagnostics) (groups.get(x.object) ?? groups.set(x.object, []).get(x.object)).push(x);
      const rows = [];
      for (const [object, list] of [...groups].sort((a, b) => a[0].localeCompare(b[0]))) {
        const warnings = list.filter((x) => x.severity !== 'Normal').length;
        rows.push({ cells: [object + ' · ' + list.length + (list.length === 1 ? ' diagnostic' : ' diagnostics')], group: true, problem: warnings > 0, key: object + ' ' + list.map((x) => x.code + ' ' + x.message).join(' '), member: object });
        for (const x of list) rows.push({ cells: [[x.severity, x.severity === 'Normal' ? '' : 'bad'], x.code, x.field, x.message], problem: x.severity !== 'Normal', key: object + ' ' + [x.code, x.field, x.message].join(' '), member: object });
      }
      fill('diagnostics', rows);
    },
  };

  function currentView() {
    const hash = decodeURIComponent(location.hash.slice(1));
    if (hash.startsWith('host/')) return ['host', hash.slice(5)];
    return [views[hash] && hash !== 'host' ? hash : 'hosts', null];
  }
  function applyFilter(tbody) {
    const words = $('search').value.toLowerCase().split(/\\s+/).filter(Boolean);
    const problems = $('problems').checked;
    const shown = new Set();
    for (const tr of tbody.rows) {
      const match = (!problems || tr.dataset.problem === '1') && words.every((w) => tr.dataset.text.includes(w));
      tr.hidden = !match && !tr.dataset.placeholder;
      if (match && tr.dataset.member) shown.add(tr.dataset.member);
    }
    // A diagnostics group shows when any of its rows does.
    for (const tr of tbody.rows) if (tr.className === 'group' && shown.has(tr.dataset.member)) tr.hidden = false;
  }
  function render(force) {
    if (!data) return;
    const [view, arg] = currentView();
    for (const a of document.querySelectorAll('nav a')) a.classList.toggle('active', a.dataset.view === (view === 'host' ? 'hosts' : view));
    for (const s of document.querySelectorAll('main section')) s.hidden = s.id !== 'view-' + view;
    const ix = indexes(data);
    // Rebuilt only when what the view shows changed: the host list, for one, does not show the
    // endpoints' counters, which change every second under traffic.
    const shows = {
      hosts: () => [data.hosts, data.backends.map((b) => backendState(b)[0]), [...ix.diagnosticsOf.keys()]],
      host: () => [data.hosts.find((h) => h.host === arg), data.backends, data.certificates],
      backends: () => data.backends,
      certificates: () => [data.certificates, data.defaultCertificate],
      diagnostics: () => data.diagnostics,
    };
    const key = view + '\\u0000' + (arg ?? '') + '\\u0000' + JSON.stringify(shows[view]());
    if (!force && rendered.key === key) return;
    rendered.key = key;
    views[view](data, ix, arg);
  }
  function summary(d) {
    const ix = indexes(d);
    $('version').textContent = d.version;
    $('uptime').textContent = duration(d.uptimeSeconds);
    $('generation').textContent = d.generation ?? '–';
    $('updated').textContent = new Date().toLocaleTimeString();
    $('count-hosts').textContent = d.hosts.length;
    $('count-routes').textContent = d.hosts.reduce((n, h) => n + h.routes.length, 0);
    $('count-backends').textContent = d.backends.length;
    const down = d.backends.filter((b) => backendState(b)[1] === 'bad').length;
    setBadge('badge-backends', down ? down + ' down' : 'all up', down ? 'bad' : 'ok');
    const endpoints = d.backends.flatMap((b) => b.endpoints);
    $('count-endpoints').textContent = endpoints.filter((e) => e.ready && !e.ejected).length + ' / ' + endpoints.length;
    $('count-diagnostics').textContent = d.diagnostics.length;
    const warnings = d.diagnostics.filter((x) => x.severity !== 'Normal').length;
    setBadge('badge-diagnostics', warnings ? warnings + ' warnings' : 'none', warnings ? 'warn' : 'ok');
    const certs = d.certificates.length + (d.defaultCertificate ? 1 : 0);
    $('count-certificates').textContent = certs;
    const soon = d.certificates.filter((c) => !c.usable || daysLeft(c.notAfter) < 14).length + (d.defaultCertificate && daysLeft(d.defaultCertificate.notAfter) < 14 ? 1 : 0);
    setBadge('badge-certificates', soon ? soon + ' need attention' : 'ok', soon ? 'warn' : 'ok');
    // Rates over the last 10 s of polls (the counters are totals since start).
    let rates = null;
    if (d.totals) {
      const now = Date.now();
      samples.push({ at: now, ...d.totals });
      while (samples.length > 2 && samples[1].at <= now - 10000) samples.shift();
      const base = samples[0], requests = d.totals.requests - base.requests;
      if (now > base.at) rates = { perSecond: requests / ((now - base.at) / 1000), errors: requests ? (d.totals.errors - base.errors) / requests : 0 };
    }
    $('request-rate').textContent = d.totals ? (rates ? rates.perSecond.toFixed(1) : '…') : 'metrics off';
    $('error-rate').textContent = d.totals ? (rates ? percent(rates.errors) : '…') : '–';
    $('error-rate').className = rates && rates.errors > 0 ? 'bad' : '';
  }
  async function refresh() {
    try {
      data = await (await fetch('/debug/dashboard', { cache: 'no-store' })).json();
      summary(data);
      render(false);
    } catch (err) {
      $('updated').textContent = 'failed: ' + err;
    }
  }
  function filterAll() { for (const tbody of document.querySelectorAll('main tbody')) applyFilter(tbody); }
  $('search').addEventListener('input', filterAll);
  $('problems').addEventListener('change', filterAll);
  addEventListener('hashchange', () => render(true));
  refresh();
  setInterval(refresh, 1000);
</script>
</body>
</html>
`;
