// GET /: a small status page. The page itself holds no data (so it is served
// without the token); its script polls /status with the token the operator
// types once, kept in the tab's sessionStorage only.
export const STATUS_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cutover</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:60em;color:#222}
 h1{font-size:1.4em} table{border-collapse:collapse;margin:.5em 0 1.5em} td,th{padding:.2em .8em;text-align:left;border-bottom:1px solid #ddd}
 .ok{color:#070}.bad{color:#b00;font-weight:bold}.muted{color:#777} #err{color:#b00}
</style></head><body>
<h1>cutover <span id="phase"></span></h1>
<p id="err"></p>
<table id="summary"></table>
<h2>Gates</h2><table id="gates"></table>
<h2>History</h2><table id="history"></table>
<script>
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
async function refresh() {
  const token = sessionStorage.getItem('cutover-token');
  const res = await fetch('/status', { headers: token ? { authorization: 'Bearer ' + token } : {} }).catch((e) => ({ ok: false, status: 0, e }));
  if (res.status === 401) {
    const t = prompt('Control API token (CUTOVER_TOKEN)');
    if (t) sessionStorage.setItem('cutover-token', t);
    return;
  }
  if (!res.ok) { $('err').textContent = 'status unavailable (' + res.status + ')'; return; }
  $('err').textContent = '';
  const s = await res.json();
  $('phase').textContent = '— ' + s.phase;
  const rows = [
    ['reads to the new database', s.effectiveReadPercent + ' %' + (s.tripped ? ' (tripped: ' + s.tripped + ')' : '')],
    ['plan', s.plan.steps.map((p, i) => i === s.planStep ? '[' + p + ']' : p).join(' → ') + (s.plan.next !== null ? ' · next ' + s.plan.next + ' %' : '')],
    ['verify', (s.verifyResult ?? 'none recorded') + (s.verifiedAt || ['SHIFTING', 'PROMOTED', 'FINALIZED'].includes(s.phase) ? '' : ' — reads to the new database start only once cutover verify passes')],
    ['state store', s.store.kind + ' ' + s.store.where + (s.degraded ? ' — DEGRADED: ' + s.degraded : '')],
    ['breaker', s.breaker ?? 'no target'], ['dirty keys', s.dirtyKeys + ' (drain backlog ' + s.drainBacklog + ')'],
    ['sessions', s.proxy.sessionsOpen + ' open'], ['source of truth', s.sourceOfTruth],
  ];
  $('summary').innerHTML = rows.map(([k, v]) => '<tr><th>' + esc(k) + '</th><td>' + esc(v) + '</td></tr>').join('');
  $('gates').innerHTML = (s.gates?.results ?? []).map((g) => '<tr><td class="' + (g.ok ? 'ok' : 'bad') + '">' + (g.ok ? 'holds' : 'FAILS') + '</td><th>' + esc(g.gate) + '</th><td>' + esc(g.detail) + '</td></tr>').join('') || '<tr><td class="muted">no target configured</td></tr>';
  $('history').innerHTML = s.history.slice().reverse().map((h) => '<tr><td class="muted">' + esc(h.at) + '</td><td>' + esc(h.what) + '</td><td>' + esc(h.from) + ' → ' + esc(h.to) + '</td><td>' + esc(h.actor) + '</td><td>' + esc(h.reason) + '</td></tr>').join('');
}
refresh(); setInterval(refresh, 1000);
</script></body></html>`;
