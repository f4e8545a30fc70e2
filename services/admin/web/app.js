// The admin UI: one page per nsqadmin URL, rendered from the JSON API and refreshed at the
// stats interval without a reload. No framework and nothing fetched from elsewhere.
'use strict';

(function () {
  const BASE = window.NSQ_BASE_PATH || '/';
  const COLORS = {depth: '#2563eb', in: '#16a34a', finished: '#7c3aed', requeued: '#d97706', timed_out: '#dc2626'};
  let timer = null;
  let generation = 0;  // bumped on navigation: stale refreshes are dropped
  let admin = false;
  let intervalMs = 2000;
  const sparks = new Map();  // topic -> recent rates, for the overview sparklines

  // --- helpers ---

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : '');
  const rate = (r) => (r && typeof r.in === 'number' ? r.in.toFixed(1) + '/s' : '–');
  const enc = encodeURIComponent;
  const link = (path, text, testid) => h('a', {href: BASE + path, 'data-link': '', 'data-testid': testid}, text);
  function duration(ns) {
    let s = Math.floor(ns / 1e9);
    const d = Math.floor(s / 86400); s %= 86400;
    const hh = Math.floor(s / 3600); s %= 3600;
    const m = Math.floor(s / 60); s %= 60;
    return (d ? d + 'd' : '') + (d || hh ? hh + 'h' : '') + (d || hh || m ? m + 'm' : '') + s + 's';
  }

  function banner(kind, text) {
    const b = document.getElementById('banner');
    if (!text) { b.className = 'banner hidden'; b.textContent = ''; return; }
    b.className = 'banner ' + kind;
    b.textContent = text;
  }

  async function api(method, path, body) {
    const headers = body ? {'Content-Type': 'application/json'} : {};
    const resp = await fetch(BASE + path, {method, headers, body: body ? JSON.stringify(body) : undefined});
    let json = null;
    try { json = await resp.json(); } catch (e) { json = {message: 'bad response from the admin'}; }
    return {status: resp.status, json};
  }

  // GET for a page: shows upstream warnings and errors in the banner; null on failure.
  async function load(path) {
    let r;
    try {
      r = await api('GET', path);
    } catch (e) {
      banner('error', 'The admin is unreachable: ' + e.message);
      return null;
    }
    if (r.status !== 200) {
      banner('error', (r.json && r.json.message) || ('HTTP ' + r.status));
      return {missing: r.status === 404, json: r.json};
    }
    banner('warn', r.json.message || '');
    document.getElementById('live').textContent = 'updated ' + new Date().toLocaleTimeString();
    return {json: r.json};
  }

  // Runs an action after a confirm dialog; the page refreshes after it.
  async function act(question, method, path, body, after) {
    if (!window.confirm(question)) return;
    const r = await api(method, path, body);
    if (r.status !== 200) {
      banner('error', r.json.message || ('HTTP ' + r.status));
      return;
    }
    banner('warn', r.json.message || '');
    if (after) after(); else refresh();
  }

  function actionButton(label, question, method, path, body, opts) {
    opts = opts || {};
    return h('button', {
      class: opts.danger ? 'danger' : '',
      disabled: !admin,
      title: admin ? '' : 'only admin users may act',
      'data-testid': opts.testid,
      onclick: () => act(question, method, path, body, opts.after),
    }, label);
  }

  function table(headers, rows, testid) {
    return h('table', {'data-testid': testid},
      h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))),
      h('tbody', {}, rows));
  }

  function sparkline(values, color) {
    const w = 90, hgt = 22;
    const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('width', w);
    svg.setAttribute('height', hgt);
    if (values.length > 1) {
      const max = Math.max(...values, 1e-9);
      const pts = values.map((v, i) => `${(i / (values.length - 1)) * w},${hgt - 2 - (v / max) * (hgt - 4)}`);
      const p = document.createElementNS(svg.namespaceURI, 'polyline');
      p.setAttribute('points', pts.join(' '));
      p.setAttribute('fill', 'none');
      p.setAttribute('stroke', color || COLORS.in);
      p.setAttribute('stroke-width', '1.5');
      svg.appendChild(p);
    }
    return svg;
  }

  // A line chart of series {name: [values]} over times `ts` (ms).
  function chart(title, ts, series, testid) {
    const w = 460, hgt = 160, pad = 34;
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('width', w);
    svg.setAttribute('height', hgt);
    let max = 0;
    for (const vals of Object.values(series)) for (const v of vals) max = Math.max(max, v);
    if (max === 0) max = 1;
    const t0 = ts[0] || 0, t1 = ts[ts.length - 1] || 1;
    const x = (t) => pad + ((t - t0) / Math.max(1, t1 - t0)) * (w - pad - 8);
    const y = (v) => hgt - 20 - (v / max) * (hgt - 30);
    const line = (x1, y1, x2, y2, color) => {
      const l = document.createElementNS(ns, 'line');
      l.setAttribute('x1', x1); l.setAttribute('y1', y1); l.setAttribute('x2', x2); l.setAttribute('y2', y2);
      l.setAttribute('stroke', color); svg.appendChild(l);
    };
    const text = (tx, ty, s) => {
      const t = document.createElementNS(ns, 'text');
      t.setAttribute('x', tx); t.setAttribute('y', ty); t.setAttribute('font-size', '10'); t.setAttribute('fill', '#6b7280');
      t.textContent = s; svg.appendChild(t);
    };
    line(pad, y(0), w - 8, y(0), '#d1d5db');
    line(pad, y(max), w - 8, y(max), '#f3f4f6');
    text(2, y(max) + 4, max >= 100 ? Math.round(max) : max.toFixed(1));
    text(2, y(0) + 4, '0');
    if (ts.length) {
      text(pad, hgt - 4, new Date(t0).toLocaleTimeString());
      text(w - 70, hgt - 4, new Date(t1).toLocaleTimeString());
    }
    for (const [name, vals] of Object.entries(series)) {
      if (vals.length < 2) continue;
      const p = document.createElementNS(ns, 'polyline');
      p.setAttribute('points', vals.map((v, i) => `${x(ts[i])},${y(v)}`).join(' '));
      p.setAttribute('fill', 'none');
      p.setAttribute('stroke', COLORS[name] || '#111');
      p.setAttribute('stroke-width', '1.5');
      svg.appendChild(p);
    }
    return h('div', {class: 'chart', 'data-testid': testid},
      h('div', {class: 'title'}, title),
      svg,
      h('div', {class: 'legend'}, Object.keys(series).map((n) => h('span', {style: `color:${COLORS[n]}`}, '■ ' + n.replace('_', ' ')))));
  }

  async function historyCharts(query) {
    const r = await api('GET', 'api/history?' + query).catch(() => null);
    if (!r || r.status !== 200) return h('p', {class: 'muted'}, 'No history yet.');
    const pts = r.json.points;
    const ts = pts.map((p) => p.t);
    return h('div', {class: 'charts'},
      chart('Depth', ts, {depth: pts.map((p) => p.depth)}, 'chart-depth'),
      chart('Messages per second', ts, {
        in: pts.map((p) => p.in), finished: pts.map((p) => p.finished),
        requeued: pts.map((p) => p.requeued), timed_out: pts.map((p) => p.timed_out),
      }, 'chart-rates'));
  }

  function render(...nodes) {
    const main = document.getElementById('main');
    main.replaceChildren(...nodes.filter(Boolean));
  }

  // --- pages ---

  async function overviewPage(gen) {
    const r = await load('api/overview');
    if (gen !== generation || !r) return;
    const o = r.json;
    if (!o.topics) return render(h('h1', {}, 'Topics'), h('p', {class: 'muted'}, 'No data.'));
    const rows = o.topics.map((t) => {
      const hist = sparks.get(t.topic_name) || [];
      if (t.rate) { hist.push(t.rate.in); if (hist.length > 30) hist.shift(); sparks.set(t.topic_name, hist); }
      return h('tr', {'data-topic': t.topic_name},
        h('td', {}, link('topics/' + enc(t.topic_name), t.topic_name, 'topic-link'),
          t.paused ? h('span', {class: 'badge paused'}, 'paused') : null),
        h('td', {'data-col': 'depth'}, fmt(t.depth)),
        h('td', {'data-col': 'channel_depth'}, fmt(t.channel_depth)),
        h('td', {'data-col': 'message_count'}, fmt(t.message_count)),
        h('td', {'data-col': 'channel_count'}, fmt(t.channel_count)),
        h('td', {'data-col': 'node_count'}, fmt(t.node_count)),
        h('td', {'data-col': 'rate'}, rate(t.rate)),
        h('td', {}, sparkline(hist)));
    });
    render(
      h('h1', {}, 'Topics'),
      h('div', {class: 'cards'},
        card('Topics', fmt(o.topics.length), 'total-topics'),
        card('Nodes', fmt(o.node_count), 'total-nodes'),
        card('Depth', fmt(o.total_depth), 'total-depth'),
        card('Messages', fmt(o.total_messages), 'total-messages'),
        card('Rate', o.total_rate.toFixed(1) + '/s', 'total-rate')),
      o.topics.length ? table(['Topic', 'Depth', 'Channel depth', 'Messages', 'Channels', 'Nodes', 'Rate', ''], rows, 'topics-table')
        : h('p', {class: 'muted'}, 'No topics.'));
  }

  function card(k, v, testid) {
    return h('div', {class: 'card'}, h('div', {class: 'k'}, k), h('div', {class: 'v', 'data-testid': testid}, v));
  }

  async function topicPage(gen, topic) {
    const r = await load('api/topics/' + enc(topic));
    if (gen !== generation || !r) return;
    if (r.missing) return render(h('h1', {}, topic), h('p', {class: 'muted'}, 'Topic not found.'));
    const t = r.json;
    const path = 'api/topics/' + enc(topic);
    const nodeRows = t.nodes.map((n) => h('tr', {'data-node': n.node},
      h('td', {}, link('nodes/' + enc(n.node), n.node)),
      h('td', {'data-col': 'depth'}, fmt(n.depth)),
      h('td', {'data-col': 'memory_backend'}, fmt(n.memory_depth) + ' + ' + fmt(n.backend_depth)),
      h('td', {'data-col': 'message_count'}, fmt(n.message_count)),
      h('td', {'data-col': 'channel_count'}, fmt(n.channels.length)),
      h('td', {}, n.paused ? h('span', {class: 'badge paused'}, 'paused') : '')));
    nodeRows.push(h('tr', {class: 'total'}, h('td', {}, 'Total'), h('td', {'data-col': 'depth'}, fmt(t.depth)),
      h('td', {}, fmt(t.memory_depth) + ' + ' + fmt(t.backend_depth)), h('td', {'data-col': 'message_count'}, fmt(t.message_count)),
      h('td', {}, fmt(t.channels.length)), h('td', {}, '')));
    const chanRows = t.channels.map((c) => h('tr', {'data-channel': c.channel_name},
      h('td', {}, link('topics/' + enc(topic) + '/' + enc(c.channel_name), c.channel_name, 'channel-link'),
        c.paused ? h('span', {class: 'badge paused'}, 'paused') : null),
      h('td', {'data-col': 'depth'}, fmt(c.depth)),
      h('td', {'data-col': 'memory_backend'}, fmt(c.memory_depth) + ' + ' + fmt(c.backend_depth)),
      h('td', {'data-col': 'in_flight_count'}, fmt(c.in_flight_count)),
      h('td', {'data-col': 'deferred_count'}, fmt(c.deferred_count)),
      h('td', {'data-col': 'requeue_count'}, fmt(c.requeue_count)),
      h('td', {'data-col': 'timeout_count'}, fmt(c.timeout_count)),
      h('td', {'data-col': 'message_count'}, fmt(c.message_count)),
      h('td', {'data-col': 'client_count'}, fmt(c.client_count)),
      h('td', {'data-col': 'rate'}, rate(c.rate))));
    const charts = await historyCharts('topic=' + enc(topic));
    if (gen !== generation) return;
    render(
      h('h1', {}, 'Topic ', h('span', {'data-testid': 'topic-name'}, topic),
        t.paused ? h('span', {class: 'badge paused', 'data-testid': 'paused-badge'}, 'paused') : null),
      h('div', {class: 'actions'},
        t.paused ? actionButton('Unpause', `Unpause topic ${topic}?`, 'POST', path, {action: 'unpause'}, {testid: 'unpause'})
          : actionButton('Pause', `Pause topic ${topic}?`, 'POST', path, {action: 'pause'}, {testid: 'pause'}),
        actionButton('Empty', `Empty topic ${topic}? Its queued messages are lost.`, 'POST', path, {action: 'empty'}, {testid: 'empty', danger: true}),
        actionButton('Delete', `Delete topic ${topic} everywhere?`, 'DELETE', path, null,
          {testid: 'delete', danger: true, after: () => navigate(BASE)}),
        h('span', {class: 'muted'}, 'Rate: ', h('span', {'data-testid': 'topic-rate'}, rate(t.rate)))),
      h('h2', {}, 'Nodes'),
      table(['Node', 'Depth', 'Memory + Disk', 'Messages', 'Channels', ''], nodeRows, 'topic-nodes'),
      h('h2', {}, 'Channels'),
      t.channels.length ? table(['Channel', 'Depth', 'Memory + Disk', 'In-Flight', 'Deferred', 'Requeued', 'Timed Out', 'Messages', 'Clients', 'Rate'], chanRows, 'topic-channels')
        : h('p', {class: 'muted'}, 'No channels.'),
      h('h2', {}, 'History'),
      charts);
  }

  // nsqadmin's nanotohuman: one decimal and the largest unit under the value.
  function nanotohuman(ns) {
    if (ns > 1e9) return (ns / 1e9).toFixed(1) + 's';
    if (ns > 1e6) return (ns / 1e6).toFixed(1) + 'ms';
    if (ns > 1e3) return (ns / 1e3).toFixed(1) + 'us';
    return Number(ns || 0).toFixed(1) + 'ns';
  }
  const pct = (q) => Math.round(q * 100) + (([, 'st', 'nd', 'rd'])[Math.floor(q * 100) % 10] || 'th');
  const peeked = new Map();  // "topic/channel" -> the last peek answer, kept across refreshes

  // Beyond nsqadmin: a channel's policy and its counters (brokers with a gRPC port).
  function policySection(c) {
    if (!c.policy && c.dead_letter_count === undefined) return null;
    const p = c.policy || {};
    const item = (label, value, testid) => h('div', {class: 'card'}, h('div', {class: 'muted'}, label), h('div', {'data-testid': testid}, value));
    return h('div', {'data-testid': 'channel-policy'},
      h('h2', {}, 'Policy'),
      h('div', {class: 'cards'},
        item('Max attempts', p.max_attempts ? fmt(p.max_attempts) : 'unlimited', 'policy-max-attempts'),
        item('Dead-letter topic', p.dead_letter_topic ? link('topics/' + enc(p.dead_letter_topic), p.dead_letter_topic) : '–', 'policy-dead-letter-topic'),
        item('Message TTL', p.message_ttl_ms ? duration(p.message_ttl_ms * 1e6) + (p.dead_letter_expired ? ' (then dead-lettered)' : '') : 'none', 'policy-ttl'),
        item('Max depth', p.max_depth ? fmt(p.max_depth) + ' (' + (p.depth_policy || 'reject_new').replace('_', ' ') + ')' : 'unbounded', 'policy-max-depth'),
        item('Out of attempts', fmt(c.attempts_exceeded_count), 'policy-attempts-exceeded'),
        item('Expired', fmt(c.expired_count), 'policy-expired'),
        item('Dead-lettered', fmt(c.dead_letter_count), 'policy-dead-lettered'),
        item('Dropped (depth)', fmt(c.depth_dropped_count), 'policy-depth-dropped'),
        item('Rejected (depth)', fmt(c.depth_rejected_count), 'policy-depth-rejected')));
  }

  // Beyond nsqadmin: up to N messages per state per broker, unchanged by being looked at.
  function peekSection(topic, channel) {
    const key = topic + '/' + channel;
    const out = h('div', {'data-testid': 'peek-result'});
    const show = (r) => {
      out.replaceChildren();
      if (!r) return;
      if (r.message) out.append(h('p', {class: 'muted', 'data-testid': 'peek-warning'}, r.message));
      const rows = (r.messages || []).map((m) => h('tr', {'data-peek': m.id},
        h('td', {class: 'l'}, m.node),
        h('td', {class: 'l', 'data-col': 'state'}, m.state.replace('_', ' ')),
        h('td', {class: 'l'}, m.id),
        h('td', {'data-col': 'attempts'}, fmt(m.attempts)),
        h('td', {class: 'l'}, new Date(m.timestamp / 1e6).toISOString()),
        h('td', {class: 'l', 'data-col': 'body'}, m.body.length > 200 ? m.body.slice(0, 200) + '…' : m.body)));
      out.append(rows.length ? table(['Node', 'State', 'ID', 'Attempts', 'Published', 'Body'], rows, 'peek-messages')
        : h('p', {class: 'muted', 'data-testid': 'peek-empty'}, 'No messages.'));
    };
    const limit = h('input', {type: 'number', min: '1', max: '100', value: '10', 'data-testid': 'peek-limit', style: 'width:5em'});
    const button = h('button', {'data-testid': 'peek'}, 'Peek');
    button.addEventListener('click', async () => {
      const r = await api('GET', 'api/topics/' + enc(topic) + '/' + enc(channel) + '/peek?limit=' + enc(limit.value));
      if (r.status !== 200) return banner('error', (r.json && r.json.message) || ('peek failed: HTTP ' + r.status));
      peeked.set(key, r.json);
      show(r.json);
    });
    show(peeked.get(key));
    return h('div', {}, h('h2', {}, 'Messages'), h('div', {class: 'actions'}, 'Per state per node: ', limit, button), out);
  }

  async function channelPage(gen, topic, channel) {
    const r = await load('api/topics/' + enc(topic) + '/' + enc(channel));
    if (gen !== generation || !r) return;
    if (r.missing) return render(h('h1', {}, topic + ' / ' + channel), h('p', {class: 'muted'}, 'Channel not found.'));
    const c = r.json;
    const path = 'api/topics/' + enc(topic) + '/' + enc(channel);
    // nsqadmin's E2E processing latency columns: the average per quantile, min/max on hover.
    const quantiles = ((c.e2e_processing_latency || {}).percentiles || []).map((p) => p.quantile);
    const e2eCols = (x) => quantiles.map((q) => {
      const p = ((x.e2e_processing_latency || {}).percentiles || []).find((v) => v.quantile === q);
      return h('td', p ? {'data-col': 'e2e-' + q, title: `${pct(q)}: min = ${nanotohuman(p.min)}, max = ${nanotohuman(p.max)}`} : {'data-col': 'e2e-' + q},
        p ? nanotohuman(p.average) : '–');
    });
    const cols = (x) => [
      h('td', {'data-col': 'depth'}, fmt(x.depth)),
      h('td', {'data-col': 'memory_backend'}, fmt(x.memory_depth) + ' + ' + fmt(x.backend_depth)),
      h('td', {'data-col': 'in_flight_count'}, fmt(x.in_flight_count)),
      h('td', {'data-col': 'deferred_count'}, fmt(x.deferred_count)),
      h('td', {'data-col': 'requeue_count'}, fmt(x.requeue_count)),
      h('td', {'data-col': 'timeout_count'}, fmt(x.timeout_count)),
      h('td', {'data-col': 'message_count'}, fmt(x.message_count)),
      h('td', {'data-col': 'client_count'}, fmt(x.client_count)),
      ...e2eCols(x)];
    const nodeRows = c.nodes.map((n) => h('tr', {'data-node': n.node}, h('td', {}, link('nodes/' + enc(n.node), n.node)), cols(n)));
    nodeRows.push(h('tr', {class: 'total'}, h('td', {}, 'Total'), cols(c)));
    const now = Date.now();
    const clientRows = (c.clients || []).map((k) => h('tr', {'data-client': k.remote_address},
      h('td', {}, k.remote_address),
      h('td', {class: 'l'}, k.hostname),
      h('td', {class: 'l'}, k.user_agent),
      h('td', {class: 'l', 'data-col': 'protocol'}, k.version === 'grpc' ? 'grpc' : (k.version || 'V2').toLowerCase()),
      h('td', {class: 'l'}, k.tls ? ('TLS ' + (k.tls_version || '')) : '–'),
      h('td', {class: 'l'}, k.snappy ? 'snappy' : k.deflate ? 'deflate' : '–'),
      h('td', {class: 'l'}, k.auth_identity || '–'),
      h('td', {class: 'l'}, link('nodes/' + enc(k.node), k.node)),
      h('td', {'data-col': 'ready_count'}, fmt(k.ready_count)),
      h('td', {'data-col': 'in_flight_count'}, fmt(k.in_flight_count)),
      h('td', {'data-col': 'finish_count'}, fmt(k.finish_count)),
      h('td', {'data-col': 'requeue_count'}, fmt(k.requeue_count)),
      h('td', {}, duration(Math.max(0, now * 1e6 - k.connect_ts * 1e9)))));
    const charts = await historyCharts('topic=' + enc(topic) + '&channel=' + enc(channel));
    if (gen !== generation) return;
    render(
      h('h1', {}, link('topics/' + enc(topic), topic), ' / ', h('span', {'data-testid': 'channel-name'}, channel),
        c.paused ? h('span', {class: 'badge paused', 'data-testid': 'paused-badge'}, 'paused') : null),
      h('div', {class: 'actions'},
        c.paused ? actionButton('Unpause', `Unpause channel ${channel}?`, 'POST', path, {action: 'unpause'}, {testid: 'unpause'})
          : actionButton('Pause', `Pause channel ${channel}?`, 'POST', path, {action: 'pause'}, {testid: 'pause'}),
        actionButton('Empty', `Empty channel ${channel}? Its queued messages are lost.`, 'POST', path, {action: 'empty'}, {testid: 'empty', danger: true}),
        actionButton('Delete', `Delete channel ${channel} everywhere?`, 'DELETE', path, null,
          {testid: 'delete', danger: true, after: () => navigate(BASE + 'topics/' + enc(topic))}),
        h('span', {class: 'muted'}, 'Rate: ', h('span', {'data-testid': 'channel-rate'}, rate(c.rate)))),
      h('h2', {}, 'Nodes'),
      table(['Node', 'Depth', 'Memory + Disk', 'In-Flight', 'Deferred', 'Requeued', 'Timed Out', 'Messages', 'Clients',
        ...quantiles.map((q) => 'E2E ' + pct(q))], nodeRows, 'channel-nodes'),
      policySection(c),
      peekSection(topic, channel),
      h('h2', {}, 'Clients'),
      clientRows.length ? table(['Remote address', 'Hostname', 'User agent', 'Protocol', 'TLS', 'Compression', 'Auth identity', 'Node', 'Ready', 'In-Flight', 'Finished', 'Requeued', 'Connected'], clientRows, 'clients')
        : h('p', {class: 'muted', 'data-testid': 'no-clients'}, 'No clients connected.'),
      h('h2', {}, 'History'),
      charts);
  }

  async function nodesPage(gen) {
    const r = await load('api/nodes');
    if (gen !== generation || !r) return;
    const rows = (r.json.nodes || []).map((n) => {
      const id = n.broadcast_address + ':' + n.http_port;
      return h('tr', {'data-node': id},
        h('td', {}, link('nodes/' + enc(id), n.hostname || n.broadcast_address, 'node-link')),
        h('td', {}, n.broadcast_address),
        h('td', {'data-col': 'tcp_port'}, n.tcp_port),
        h('td', {'data-col': 'http_port'}, n.http_port),
        h('td', {'data-col': 'grpc_port'}, n.grpc_port || '–'),
        h('td', {'data-col': 'transport'}, n.transport),
        h('td', {'data-col': 'version', class: n.out_of_date ? 'bad' : ''}, n.version || '?'),
        h('td', {'data-col': 'topics'}, n.topics.length),
        h('td', {class: 'l'}, n.ok ? h('span', {class: 'ok'}, 'ok') : h('span', {class: 'bad'}, n.error)));
    });
    render(h('h1', {}, 'Nodes'),
      rows.length ? table(['Hostname', 'Broadcast address', 'TCP', 'HTTP', 'gRPC', 'Read over', 'Version', 'Topics', 'Status'], rows, 'nodes-table')
        : h('p', {class: 'muted'}, 'No nodes.'));
  }

  async function nodePage(gen, node) {
    const r = await load('api/nodes/' + enc(node));
    if (gen !== generation || !r) return;
    if (r.missing) return render(h('h1', {}, node), h('p', {class: 'muted'}, 'Node not found.'));
    const n = r.json;
    const rows = n.topics.map((t) => h('tr', {'data-topic': t.topic_name},
      h('td', {}, link('topics/' + enc(t.topic_name), t.topic_name),
        t.paused ? h('span', {class: 'badge paused'}, 'paused') : null),
      h('td', {'data-col': 'depth'}, fmt(t.depth)),
      h('td', {'data-col': 'memory_backend'}, fmt(t.memory_depth) + ' + ' + fmt(t.backend_depth)),
      h('td', {'data-col': 'message_count'}, fmt(t.message_count)),
      h('td', {'data-col': 'channel_count'}, fmt(t.channels.length)),
      h('td', {}, actionButton('Tombstone', `Tombstone topic ${t.topic_name} on ${node}? Consumers stop finding it here and the topic is deleted on this node.`,
        'DELETE', 'api/nodes/' + enc(node), {topic: t.topic_name}, {testid: 'tombstone', danger: true}))));
    const info = await api('GET', 'api/nodes').catch(() => null);
    let meta = null;
    if (info && info.status === 200) meta = (info.json.nodes || []).find((x) => x.broadcast_address + ':' + x.http_port === node);
    if (gen !== generation) return;
    const tomb = meta ? meta.topics.filter((x) => x.tombstoned).map((x) => x.topic) : [];
    const charts = await historyCharts('node=' + enc(node));
    if (gen !== generation) return;
    render(
      h('h1', {}, 'Node ', h('span', {'data-testid': 'node-name'}, node)),
      h('div', {class: 'cards'},
        card('Version', n.version || '?', 'node-version'),
        card('Read over', n.transport, 'node-transport'),
        card('TCP / HTTP / gRPC', meta ? `${meta.tcp_port} / ${meta.http_port} / ${meta.grpc_port || '–'}` : '?', 'node-ports'),
        card('Messages', fmt(n.total_messages), 'node-messages'),
        card('Clients', fmt(n.total_clients), 'node-clients'),
        card('Tombstoned', tomb.length ? tomb.join(', ') : 'none', 'node-tombstones')),
      h('h2', {}, 'Topics'),
      rows.length ? table(['Topic', 'Depth', 'Memory + Disk', 'Messages', 'Channels', ''], rows, 'node-topics') : h('p', {class: 'muted'}, 'No topics.'),
      h('h2', {}, 'History'),
      charts);
  }

  let counterShown = null;
  async function counterPage(gen) {
    const r = await load('api/counter');
    if (gen !== generation || !r) return;
    let total = 0;
    for (const s of Object.values(r.json.stats || {})) total += s.message_count;
    if (!document.querySelector('[data-testid="counter"]')) {
      render(h('div', {class: 'counter', 'data-testid': 'counter'}, fmt(total)),
        h('p', {class: 'muted', style: 'text-align:center'}, 'messages delivered to channels, cluster wide'));
      counterShown = total;
      return;
    }
    // Counts up smoothly to the new total.
    const el = document.querySelector('[data-testid="counter"]');
    const from = counterShown === null ? total : counterShown;
    counterShown = total;
    const start = performance.now();
    const step = (t) => {
      if (gen !== generation) return;
      const f = Math.min(1, (t - start) / Math.min(intervalMs, 1000));
      el.textContent = fmt(Math.round(from + (total - from) * f));
      if (f < 1) requestAnimationFrame(step);
    };
    requestAnimationFrame(step);
  }

  async function lookupPage(gen) {
    const r = await load('api/topics?inactive=true');
    if (gen !== generation || !r) return;
    const topics = r.json.topics || {};
    const rows = [];
    for (const [t, channels] of Object.entries(topics)) {
      rows.push(h('tr', {'data-topic': t},
        h('td', {}, t),
        h('td', {class: 'l'}, (channels || []).join(', ') || '–'),
        h('td', {}, actionButton('Delete', `Delete topic ${t}?`, 'DELETE', 'api/topics/' + enc(t), null, {danger: true, testid: 'delete-inactive'}))));
    }
    const list = rows.length ? table(['Topic', 'Channels', ''], rows, 'inactive-table')
      : h('p', {class: 'muted', 'data-testid': 'no-inactive'}, 'None.');
    const holder = document.getElementById('inactive');
    if (holder) return holder.replaceChildren(list);  // keeps what is being typed in the form
    const topicIn = h('input', {name: 'topic', placeholder: 'topic', 'data-testid': 'create-topic', disabled: !admin});
    const chanIn = h('input', {name: 'channel', placeholder: 'channel (optional)', 'data-testid': 'create-channel', disabled: !admin});
    const form = h('form', {class: 'create', onsubmit: async (e) => {
      e.preventDefault();
      const body = {topic: topicIn.value.trim()};
      if (chanIn.value.trim()) body.channel = chanIn.value.trim();
      const res = await api('POST', 'api/topics', body);
      if (res.status !== 200) return banner('error', res.json.message || ('HTTP ' + res.status));
      banner('warn', res.json.message || '');
      topicIn.value = ''; chanIn.value = '';
      refresh();
    }}, h('strong', {}, 'Create topic / channel'), topicIn, chanIn,
      h('button', {type: 'submit', disabled: !admin, 'data-testid': 'create-submit'}, 'Create'));
    render(h('h1', {}, 'Lookup'),
      form,
      h('h2', {}, 'Inactive topics (in discovery, on no broker)'),
      h('div', {id: 'inactive'}, list));
  }

  // --- routing ---

  function route() {
    let rel = location.pathname.startsWith(BASE) ? location.pathname.slice(BASE.length) : location.pathname.replace(/^\//, '');
    const parts = rel.split('/').filter(Boolean).map(decodeURIComponent);
    let nav = 'topics';
    let page = (g) => overviewPage(g);
    if (parts[0] === 'topics' && parts.length === 2) page = (g) => topicPage(g, parts[1]);
    else if (parts[0] === 'topics' && parts.length === 3) page = (g) => channelPage(g, parts[1], parts[2]);
    else if (parts[0] === 'nodes' && parts.length === 1) { nav = 'nodes'; page = nodesPage; }
    else if (parts[0] === 'nodes' && parts.length === 2) { nav = 'nodes'; page = (g) => nodePage(g, parts[1]); }
    else if (parts[0] === 'counter') { nav = 'counter'; page = counterPage; }
    else if (parts[0] === 'lookup') { nav = 'lookup'; page = lookupPage; }
    for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('active', a.dataset.nav === nav);
    return page;
  }

  let current = null;
  let busy = false;
  async function refresh() {
    if (busy || !current) return;
    busy = true;
    try { await current(generation); } finally { busy = false; }
  }

  function navigate(url) {
    history.pushState(null, '', url);
    start();
  }

  function start() {
    generation++;
    // The old page's buttons must not outlive it while the new one loads.
    render(h('p', {class: 'muted'}, 'Loading…'));
    counterShown = null;
    current = route();
    busy = false;
    refresh();
  }

  document.addEventListener('click', (e) => {
    const a = e.target.closest('a[href]');
    if (!a || e.ctrlKey || e.metaKey || e.shiftKey || a.target) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !url.pathname.startsWith(BASE)) return;
    e.preventDefault();
    navigate(url.pathname);
  });
  window.addEventListener('popstate', start);

  (async () => {
    const r = await api('GET', 'api/overview').catch(() => null);
    if (r && r.json) {
      admin = r.json.admin !== false;
      if (r.json.stats_interval_ms) intervalMs = r.json.stats_interval_ms;
    }
    document.body.dataset.admin = admin ? 'true' : 'false';
    start();
    timer = setInterval(refresh, intervalMs);
  })();
})();
