// The jobsd dashboard's behaviour: takes the operator key (from the form, or once from the URL
// fragment #key=…, which browsers never send to servers), polls /api/dashboard every 2 s, renders.
'use strict';
(function () {
  const KEY = 'jobsd.operator_key';
  const REFRESH_MS = 2000;
  const STATUSES = ['QUEUED', 'STARTED', 'IN_PROGRESS', 'SUCCESS', 'FAILED', 'CANCELLED', 'EXPIRED'];
  const $ = (id) => document.getElementById(id);

  // A key in the fragment is moved to sessionStorage and the fragment dropped from the address.
  const fragment = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (fragment) {
    sessionStorage.setItem(KEY, decodeURIComponent(fragment[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }

  function showLogin(message) {
    $('main').hidden = true;
    $('forget').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
    $('status').textContent = 'operator key needed';
  }

  $('login').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, $('key').value.trim());
    $('key').value = '';
    refresh();
  });
  $('forget').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    showLogin('');
  });

  function cell(row, text, field, classes) {
    const td = document.createElement('td');
    td.textContent = text;
    if (field) td.dataset.field = field;
    if (classes) td.className = classes;
    row.appendChild(td);
    return td;
  }

  function number(n) {
    return n === null || n === undefined ? '–' : Number(n).toLocaleString('en');
  }

  function renderTypes(data) {
    const queues = new Map(((data.queues && data.queues.queues) || []).map((q) => [q.job_type, q]));
    const jobs = new Map((data.jobs || []).map((j) => [j.job_type, j]));
    const types = [...new Set([...queues.keys(), ...jobs.keys()])];
    const body = $('types').tBodies[0];
    body.replaceChildren();
    for (const type of types) {
      const row = document.createElement('tr');
      row.dataset.type = type;
      cell(row, type, 'type');
      const q = queues.get(type);
      for (const f of ['ready', 'unacked', 'consumers', 'dead_lettered']) {
        if (!q) cell(row, '–', f, 'undeclared');
        else cell(row, number(q[f]), f, q[f] ? '' : 'zero');
      }
      const counts = (jobs.get(type) || {}).counts || {};
      for (const s of STATUSES) cell(row, number(counts[s] || 0), s.toLowerCase(), counts[s] ? '' : 'zero');
      // Silent past the type's lifecycle.stuck_after_s; null when jobsd could not count them.
      const stuck = (jobs.get(type) || {}).stuck;
      if (stuck === null || stuck === undefined) cell(row, '–', 'stuck', 'undeclared');
      else cell(row, number(stuck), 'stuck', stuck ? 'alert' : 'zero');
      body.appendChild(row);
    }
    const error = $('queues-error');
    error.hidden = !data.queues_error;
    error.textContent = data.queues_error ? 'Broker queues unavailable: ' + data.queues_error : '';
  }

  // Draws series (arrays of numbers or nulls) as polylines scaled to the largest value; a value
  // with no neighbour (latency of a lone busy second) gets a dot so it is not lost.
  function chart(svg, series, colors) {
    const NS = 'http://www.w3.org/2000/svg';
    svg.replaceChildren();
    const n = Math.max(...series.map((s) => s.length), 2);
    const max = Math.max(1e-9, ...series.flat().filter((v) => v !== null));
    series.forEach((values, i) => {
      const xy = values.map((v, x) => (v === null ? null : [(x / (n - 1)) * 600, 118 - (v / max) * 112]));
      const line = document.createElementNS(NS, 'polyline');
      line.setAttribute('points', xy.filter((p) => p).map((p) => p.join(',')).join(' '));
      line.setAttribute('stroke', colors[i]);
      svg.appendChild(line);
      xy.forEach((p, x) => {
        if (!p || xy[x - 1] || xy[x + 1]) return;
        const dot = document.createElementNS(NS, 'circle');
        dot.setAttribute('cx', p[0]);
        dot.setAttribute('cy', p[1]);
        dot.setAttribute('r', 2.5);
        dot.setAttribute('fill', colors[i]);
        svg.appendChild(dot);
      });
    });
  }

  function renderIngest(ingest) {
    const points = (ingest && ingest.points) || [];
    const last = points.slice(-10);
    const rate = last.reduce((a, p) => a + p.jobs_per_second, 0) / Math.max(1, last.length);
    $('rate').textContent = rate.toFixed(1);
    const latest = [...points].reverse().find((p) => p.p50_ms !== null);
    $('latency').textContent = latest ? `${latest.p50_ms.toFixed(1)} / ${latest.p99_ms.toFixed(1)}` : '–';
    chart($('rate-chart'), [points.map((p) => p.jobs_per_second)], ['#2563eb']);
    chart($('latency-chart'), [points.map((p) => p.p50_ms), points.map((p) => p.p99_ms)], ['#2563eb', '#c4320a']);
  }

  function renderRecent(jobs) {
    const body = $('recent').tBodies[0];
    body.replaceChildren();
    for (const j of jobs || []) {
      const row = document.createElement('tr');
      cell(row, j.created_at.replace('T', ' ').replace('Z', ''));
      cell(row, j.uuid);
      cell(row, j.job_type);
      cell(row, j.job_status + (j.progress !== undefined ? ` ${j.progress}%` : ''), 'status', 's-' + j.job_status);
      cell(row, j.account_id);
      cell(row, j.updated_at.replace('T', ' ').replace('Z', ''));
      body.appendChild(row);
    }
  }

  // The webhooks panel: backlog and the newest attempts (a failed one in red).
  function renderWebhooks(hooks) {
    $('webhooks-panel').hidden = !hooks;
    if (!hooks) return;
    $('hooks-pending').textContent = number(hooks.pending);
    $('hooks-due').textContent = number(hooks.due);
    $('hooks-age').textContent = hooks.due ? hooks.oldest_due_age_seconds.toFixed(1) + ' s' : '–';
    const body = $('hook-attempts').tBodies[0];
    body.replaceChildren();
    for (const a of hooks.recent_attempts || []) {
      const row = document.createElement('tr');
      const ok = a.status_code !== null && a.status_code >= 200 && a.status_code < 300;
      cell(row, a.at.replace('T', ' ').replace('Z', ''));
      cell(row, a.delivery_id);
      cell(row, a.event);
      cell(row, a.endpoint_id || a.url);
      cell(row, String(a.attempt));
      cell(row, a.status_code === null ? '–' : String(a.status_code), 'code', ok ? '' : 'bad');
      cell(row, number(a.latency_ms));
      cell(row, a.error || '');
      body.appendChild(row);
    }
  }

  function render(data) {
    $('login').hidden = true;
    $('main').hidden = false;
    $('forget').hidden = false;
    const broker = $('broker');
    broker.textContent = 'broker: ' + data.broker;
    broker.className = 'badge ' + data.broker;
    renderTypes(data);
    renderIngest(data.ingest);
    renderRecent(data.recent_jobs);
    renderWebhooks(data.webhooks);
    $('outbox').textContent = data.outbox ? number(data.outbox.unpublished) : '–';
    $('outbox-age').textContent = data.outbox && data.outbox.unpublished
      ? `jobs, oldest ${data.outbox.oldest_age_seconds.toFixed(1)} s` : 'jobs';
    const total = (data.jobs || []).reduce((a, j) => a + j.total, 0);
    $('total').textContent = data.jobs ? number(total) : '–';
    $('status').textContent = 'updated ' + new Date().toLocaleTimeString();
    document.body.dataset.loaded = 'true';
  }

  async function refresh() {
    const key = sessionStorage.getItem(KEY);
    if (!key) return showLogin('');
    let res;
    try {
      res = await fetch('/api/dashboard', { headers: { 'x-api-key': key }, cache: 'no-store' });
    } catch (e) {
      $('status').textContent = 'jobsd unreachable (' + e.message + '), retrying';
      return;
    }
    const body = await res.json().catch(() => ({}));
    if (res.status === 401 || res.status === 403) {
      sessionStorage.removeItem(KEY);
      return showLogin(body.message || 'key refused');
    }
    if (!res.ok) {
      $('status').textContent = `jobsd answered ${res.status}: ${body.message || ''}`;
      return;
    }
    render(body);
  }

  refresh();
  setInterval(refresh, REFRESH_MS);
})();
