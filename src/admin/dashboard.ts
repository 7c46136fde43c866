import { allHostRoutes } from '../table/match.ts';
import type { Diagnostic } from '../diagnostics.ts';
import { formatObject } from '../diagnostics.ts';
import type { EndpointStats } from '../dataplane/endpoint-health.ts';
import type { Backend, Endpoint, HostRoutes, RoutingTable } from '../table/types.ts';

/** What the dashboard page polls: the table as an operator reads it, with live endpoint health. */
export function dashboardData(table: RoutingTable | undefined, diagnostics: readonly Diagnostic[], health: (endpoint: string) => EndpointStats) {
  if (!table) return { generation: null, hosts: [], backends: [], diagnostics: [], certificates: [] };
  const hosts = allHostRoutes(table);
  const endpoint = (e: Endpoint, ready: boolean) => {
    const s = health(e.key);
    return { address: e.key, pod: e.target ?? null, ready, ejected: s.ejected, requests: s.requests, errorRate: s.errorRate };
  };
  return {
    generation: table.generation,
    hosts: hosts.map((h: HostRoutes) => ({
      host: h.host,
      regexMode: h.regexMode,
      paths: (h.regexMode ? h.regex : [...h.exact.values(), ...h.prefix.values()]).map((r) => ({ path: r.path, pathType: r.pathType, ingress: r.ingress, backend: r.backend.id })),
    })),
    backends: [...table.backends.values()].map((b: Backend) => ({
      id: b.id,
      endpoints: [...b.endpoints.map((e) => endpoint(e, true)), ...b.unready.map((e) => endpoint(e, false))],
    })),
    diagnostics: diagnostics.map((d) => ({ severity: d.severity, code: d.code, object: formatObject(d.object), field: d.field ?? null, message: d.message })),
    certificates: [...table.tlsHosts].map(([host, c]) => ({ host, secret: c?.secret ?? null, notAfter: c?.notAfter ?? null, usable: c !== undefined })),
  };
}

/**
 * The dashboard: one static page that polls /debug/dashboard every second. Every value from
 * the cluster is user input, so it reaches the page through textContent only, never as HTML.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Portico</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d232a; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; } h2 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
  table { border-collapse: collapse; width: 100%; } td, th { text-align: left; padding: .25rem .6rem; border-bottom: 1px solid #e3e6ea; vertical-align: top; }
  th { background: #f4f6f8; font-weight: 600; } .muted { color: #68717c; } .bad { color: #b3261e; font-weight: 600; } .ok { color: #1b7f3b; }
  code { font: 12.5px ui-monospace, monospace; }
</style>
</head>
<body>
<h1>Portico</h1>
<div class="muted">routing table generation <span id="generation">–</span> · updated <span id="updated">never</span></div>
<h2>Hosts and paths</h2>
<table><thead><tr><th>Host</th><th>Path</th><th>Type</th><th>Ingress</th><th>Backend</th></tr></thead><tbody id="routes"></tbody></table>
<h2>Backends and endpoints</h2>
<table><thead><tr><th>Backend</th><th>Endpoint</th><th>Pod</th><th>State</th><th>Requests (last minute or two)</th><th>Error rate</th></tr></thead><tbody id="endpoints"></tbody></table>
<h2>Diagnostics</h2>
<table><thead><tr><th>Severity</th><th>Code</th><th>Object</th><th>Field</th><th>Message</th></tr></thead><tbody id="diagnostics"></tbody></table>
<h2>Certificates</h2>
<table><thead><tr><th>Host</th><th>Secret</th><th>Expires</th></tr></thead><tbody id="certificates"></tbody></table>
<script>
  function row(tbody, cells) {
    const tr = document.createElement('tr');
    for (const cell of cells) {
      const td = document.createElement('td');
      const [text, cls] = Array.isArray(cell) ? cell : [cell, ''];
      td.textContent = text === null || text === undefined ? '–' : String(text);
      if (cls) td.className = cls;
      tr.appendChild(td);
    }
    tbody.appendChild(tr);
  }
  function fill(id, rows) {
    const tbody = document.getElementById(id);
    tbody.replaceChildren();
    if (rows.length === 0) row(tbody, [['none', 'muted']]);
    for (const cells of rows) row(tbody, cells);
  }
  async function refresh() {
    try {
      const d = await (await fetch('/debug/dashboard', { cache: 'no-store' })).json();
      document.getElementById('generation').textContent = d.generation ?? '–';
      document.getElementById('updated').textContent = new Date().toLocaleTimeString();
      fill('routes', d.hosts.flatMap((h) => h.paths.map((p) => [h.host, p.path, h.regexMode ? p.pathType + ' (regex)' : p.pathType, p.ingress, p.backend])));
      fill('endpoints', d.backends.flatMap((b) => b.endpoints.length === 0
        ? [[b.id, ['no endpoints', 'bad'], '', '', '', '']]
        : b.endpoints.map((e) => [b.id, e.address, e.pod, e.ejected ? ['ejected', 'bad'] : e.ready ? ['ready', 'ok'] : ['not ready', 'bad'], e.requests, [(e.errorRate * 100).toFixed(1) + ' %', e.errorRate > 0 ? 'bad' : '']])));
      fill('diagnostics', d.diagnostics.map((x) => [[x.severity, x.severity === 'Warning' ? 'bad' : ''], x.code, x.object, x.field, x.message]));
      fill('certificates', d.certificates.map((c) => [c.host, c.usable ? c.secret : ['unusable: default certificate served', 'bad'], c.notAfter]));
    } catch (err) {
      document.getElementById('updated').textContent = 'failed: ' + err;
    }
  }
  refresh();
  setInterval(refresh, 1000);
</script>
</body>
</html>
`;
