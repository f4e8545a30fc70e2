// The admin UI in a real browser (Debian's chromium through playwright-core) over a real
// local cluster: our discovery, two brokers registered over gRPC and one through lookupd
// protocol V1 (read over the NSQ HTTP API only). Every page is opened by its nsqadmin URL,
// its numbers are checked against the brokers' own /stats, and actions go through the UI
// (confirm dialogs included) and are checked on the brokers. Each page's screenshot is
// kept in TEST_UNDECLARED_OUTPUTS_DIR.
'use strict'

const {test, before, after} = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const {chromium} = require('playwright-core')
const c = require('./lib/cluster.js')

const OUT = process.env.TEST_UNDECLARED_OUTPUTS_DIR || process.env.TEST_TMPDIR || '/tmp'
let discovery, brokers, admin, browser

const num = (s) => Number(String(s).replace(/[^0-9-]/g, ''))

async function page(url) {
  const p = await browser.newPage({viewport: {width: 1280, height: 800}})
  await p.goto(url)
  return p
}

async function shot(p, name) {
  await p.screenshot({path: path.join(OUT, `${name}.png`), fullPage: true})
}

// Text of the cell `col` in the row with attribute `rowAttr` = `rowValue` inside `table`.
async function cell(p, table, rowAttr, rowValue, col) {
  const loc = p.locator(`[data-testid="${table}"] tr[${rowAttr}="${rowValue}"] td[data-col="${col}"]`)
  if (await loc.count() === 0) return null
  return loc.first().textContent()
}

// Waits until the cell shows `want` (the page updates itself: no reload).
async function cellIs(p, table, rowAttr, rowValue, col, want) {
  await c.eventually(async () => num(await cell(p, table, rowAttr, rowValue, col)) === want &&
    await cell(p, table, rowAttr, rowValue, col) !== null,
  `${table} ${rowValue} ${col} == ${want}`)
}

async function publish(broker, topic, n) {
  for (let i = 0; i < n; i++) {
    const r = await c.http('POST', broker.http, `/pub?topic=${topic}`, 'm')
    assert.equal(r.status, 200)
  }
}

async function createChannel(broker, topic, channel) {
  assert.equal((await c.http('POST', broker.http, `/topic/create?topic=${topic}`)).status, 200)
  assert.equal((await c.http('POST', broker.http, `/channel/create?topic=${topic}&channel=${channel}`)).status, 200)
}

before(async () => {
  discovery = await c.startDiscovery()
  brokers = [
    await c.startBroker([`--discovery-address=${discovery.grpc}`]),
    await c.startBroker([`--discovery-address=${discovery.grpc}`]),
    await c.startBroker([`--lookupd-tcp-address=${discovery.tcp}`]),
  ]
  admin = await c.startAdmin([`--discovery-address=${discovery.grpc}`, '--stats-interval=250ms', '--history-window=30s'])
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  await c.eventually(async () => {
    const n = await c.http('GET', admin.url.slice(7), '/api/nodes')
    return n.json && n.json.nodes.length === 3
  }, 'three nodes in the admin')
  await createChannel(brokers[0], 'orders', 'billing')
  await createChannel(brokers[2], 'orders', 'billing')
  await createChannel(brokers[2], 'orders', 'audit')
  await publish(brokers[0], 'orders', 3)
  await publish(brokers[2], 'orders', 2)
  await publish(brokers[1], 'clicks', 4)
})

after(async () => {
  if (browser) await browser.close()
  await c.stopAll()
})

test('overview lists every topic with the brokers\' totals and updates live', async () => {
  const p = await page(admin.url + '/')
  await cellIs(p, 'topics-table', 'data-topic', 'orders', 'message_count', 5)
  await cellIs(p, 'topics-table', 'data-topic', 'clicks', 'message_count', 4)
  const depth = (await c.brokerTopic(brokers[0], 'orders')).depth + (await c.brokerTopic(brokers[2], 'orders')).depth
  assert.equal(num(await cell(p, 'topics-table', 'data-topic', 'orders', 'depth')), depth)
  assert.equal(num(await cell(p, 'topics-table', 'data-topic', 'orders', 'channel_count')), 2)
  assert.equal(num(await p.getByTestId('total-nodes').textContent()), 3)
  // More messages arrive while the page is open: it shows them without a reload.
  await publish(brokers[1], 'clicks', 3)
  await cellIs(p, 'topics-table', 'data-topic', 'clicks', 'message_count', 7)
  await c.eventually(async () => (await p.locator('[data-testid="topics-table"] tr[data-topic="clicks"] svg polyline').count()) > 0,
    'a sparkline for clicks')
  await shot(p, 'overview')
  await p.close()
})

test('topic page shows per-node rows and channel rows matching each broker', async () => {
  const p = await page(admin.url + '/topics/orders')
  for (const b of [brokers[0], brokers[2]]) {
    const t = await c.brokerTopic(b, 'orders')
    await cellIs(p, 'topic-nodes', 'data-node', b.http, 'message_count', t.message_count)
    assert.equal(num(await cell(p, 'topic-nodes', 'data-node', b.http, 'depth')), t.depth)
  }
  const billing = (await c.brokerTopic(brokers[0], 'orders')).channels[0].depth +
    (await c.brokerTopic(brokers[2], 'orders')).channels.find((ch) => ch.channel_name === 'billing').depth
  await cellIs(p, 'topic-channels', 'data-channel', 'billing', 'depth', billing)
  await cellIs(p, 'topic-channels', 'data-channel', 'audit', 'depth', 2)
  await p.getByTestId('chart-depth').waitFor()
  await shot(p, 'topic')
  await p.close()
})

test('channel page peeks at the messages of its gRPC brokers without taking them', async () => {
  await createChannel(brokers[0], 'peeks', 'look')
  await publish(brokers[0], 'peeks', 2)
  const p = await page(admin.url + '/topics/peeks/look')
  await cellIs(p, 'channel-nodes', 'data-node', brokers[0].http, 'depth', 2)
  await p.getByTestId('peek-limit').fill('5')
  await p.getByTestId('peek').click()
  await c.eventually(async () => (await p.locator('[data-testid="peek-messages"] tbody tr').count()) === 2, 'two peeked rows')
  const row = p.locator('[data-testid="peek-messages"] tbody tr').first()
  assert.equal(await row.locator('td[data-col="state"]').textContent(), 'ready')
  assert.equal(await row.locator('td[data-col="body"]').textContent(), 'm')
  assert.equal((await c.brokerTopic(brokers[0], 'peeks')).channels[0].depth, 2)
  // Without a policy or e2e percentiles, the page is nsqadmin's: no policy, no E2E columns.
  assert.equal(await p.getByTestId('channel-policy').count(), 0)
  assert.equal(await p.locator('[data-testid="channel-nodes"] th', {hasText: 'E2E'}).count(), 0)
  await shot(p, 'channel-peek')
  await p.close()
})

// A V2 consumer that FINs every message it gets (frames: size, type, then for messages
// timestamp(8) attempts(2) id(16) body).
function consumeAndFinish(broker, topic, channel, rdy) {
  const sock = c.consume(broker, topic, channel, rdy)
  let buf = Buffer.alloc(0)
  sock.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk])
    while (buf.length >= 8 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const size = buf.readUInt32BE(0)
      if (buf.readUInt32BE(4) === 2) sock.write(`FIN ${buf.subarray(8 + 10, 8 + 26).toString()}\n`)
      buf = buf.subarray(4 + size)
    }
  })
  return sock
}

test('channel page shows E2E percentile columns of a broker run with percentiles', async () => {
  // Its own broker and admin (a static broker list: read over NSQ HTTP /stats).
  const b = await c.startBroker(['--e2e-processing-latency-percentile=1.0,0.99'])
  const a = await c.startAdmin([`--nsqd-http-address=${b.http}`, '--stats-interval=250ms'])
  await createChannel(b, 'timed', 'work')
  const sock = consumeAndFinish(b, 'timed', 'work', 10)
  await publish(b, 'timed', 3)
  await c.eventually(async () => {
    const t = await c.brokerTopic(b, 'timed')
    return t && t.channels[0].e2e_processing_latency.count === 3
  }, 'three latencies on the broker')
  const p = await page(a.url + '/topics/timed/work')
  await p.locator('[data-testid="channel-nodes"] th', {hasText: 'E2E 99th'}).waitFor()
  assert.equal(await p.locator('[data-testid="channel-nodes"] th', {hasText: 'E2E 100th'}).count(), 1)
  const total = p.locator('[data-testid="channel-nodes"] tr.total td[data-col="e2e-0.99"]')
  await c.eventually(async () => /^[0-9.]+(ns|us|ms|s)$/.test(await total.textContent()), 'a latency in the total row')
  assert.match(await total.getAttribute('title'), /^99th: min = .*, max = /)
  await shot(p, 'channel-e2e')
  sock.destroy()
  await p.close()
  await a.stop()
  await b.stop()
})

test('channel page lists the clients of every node', async () => {
  await createChannel(brokers[1], 'clicks', 'web')
  const sock = c.consume(brokers[1], 'clicks', 'web', 5)
  const p = await page(admin.url + '/topics/clicks/web')
  await c.eventually(async () => (await p.locator('[data-testid="clients"] tbody tr').count()) === 1, 'one client row')
  const row = p.locator('[data-testid="clients"] tbody tr').first()
  assert.equal(await row.locator('td[data-col="protocol"]').textContent(), 'v2')
  await c.eventually(async () => num(await row.locator('td[data-col="ready_count"]').textContent()) === 5, 'ready 5')
  const b = await c.brokerTopic(brokers[1], 'clicks')
  await cellIs(p, 'channel-nodes', 'data-node', brokers[1].http, 'client_count', b.channels[0].client_count)
  await shot(p, 'channel')
  sock.destroy()
  await c.eventually(async () => (await p.getByTestId('no-clients').count()) === 1, 'the client leaves the table')
  await p.close()
})

test('nodes and node pages show every broker and the transport used', async () => {
  const p = await page(admin.url + '/nodes')
  for (const [i, b] of brokers.entries()) {
    await c.eventually(async () => (await cell(p, 'nodes-table', 'data-node', b.http, 'transport')) === (i === 2 ? 'http' : 'grpc'),
      `transport of broker ${i}`)
  }
  await shot(p, 'nodes')
  await p.close()
  const n = await page(admin.url + '/nodes/' + brokers[2].http)
  await c.eventually(async () => (await n.getByTestId('node-transport').textContent()) === 'http', 'node transport')
  await cellIs(n, 'node-topics', 'data-topic', 'orders', 'message_count', (await c.brokerTopic(brokers[2], 'orders')).message_count)
  assert.match(await n.getByTestId('node-version').textContent(), /\d+\.\d+\.\d+/)
  await shot(n, 'node')
  await n.close()
})

test('counter shows the cluster total of messages', async () => {
  const p = await page(admin.url + '/counter')
  let total = 0
  for (const b of brokers) {
    const s = await c.http('GET', b.http, '/stats?format=json')
    for (const t of s.json.topics) for (const ch of t.channels) total += ch.message_count
  }
  await c.eventually(async () => num(await p.getByTestId('counter').textContent()) === total, `counter == ${total}`)
  await shot(p, 'counter')
  await p.close()
})

test('pause, unpause, empty and delete through the UI reach every broker', async () => {
  await createChannel(brokers[0], 'jobs', 'work')
  await createChannel(brokers[2], 'jobs', 'work')
  await publish(brokers[0], 'jobs', 2)
  await publish(brokers[2], 'jobs', 2)
  const p = await page(admin.url + '/topics/jobs')
  await cellIs(p, 'topic-channels', 'data-channel', 'work', 'depth', 4)

  // Dismissing the confirm dialog does nothing.
  p.once('dialog', (d) => d.dismiss())
  await p.getByTestId('pause').click()
  await new Promise((r) => setTimeout(r, 300))
  assert.equal((await c.brokerTopic(brokers[0], 'jobs')).paused, false)

  p.once('dialog', (d) => { assert.match(d.message(), /Pause topic jobs/); d.accept() })
  await p.getByTestId('pause').click()
  await p.getByTestId('paused-badge').waitFor()
  assert.equal((await c.brokerTopic(brokers[0], 'jobs')).paused, true)
  assert.equal((await c.brokerTopic(brokers[2], 'jobs')).paused, true)

  p.once('dialog', (d) => d.accept())
  await p.getByTestId('unpause').click()
  await p.getByTestId('pause').waitFor()
  assert.equal((await c.brokerTopic(brokers[0], 'jobs')).paused, false)
  assert.equal((await c.brokerTopic(brokers[2], 'jobs')).paused, false)

  await p.close()
  const ch = await page(admin.url + '/topics/jobs/work')
  await cellIs(ch, 'channel-nodes', 'data-node', brokers[0].http, 'depth', 2)
  ch.once('dialog', (d) => d.accept())
  await ch.getByTestId('pause').click()
  await ch.getByTestId('paused-badge').waitFor()
  assert.equal((await c.brokerTopic(brokers[2], 'jobs')).channels[0].paused, true)
  ch.once('dialog', (d) => d.accept())
  await ch.getByTestId('empty').click()
  await c.eventually(async () => (await c.brokerTopic(brokers[0], 'jobs')).channels[0].depth === 0 &&
    (await c.brokerTopic(brokers[2], 'jobs')).channels[0].depth === 0, 'channel emptied on both brokers')
  await cellIs(ch, 'channel-nodes', 'data-node', brokers[2].http, 'depth', 0)
  ch.once('dialog', (d) => d.accept())
  await ch.getByTestId('delete').click()
  await ch.waitForURL(/\/topics\/jobs$/, {waitUntil: 'commit'})
  await ch.getByTestId('topic-name').waitFor()
  assert.equal((await c.brokerTopic(brokers[0], 'jobs')).channels.length, 0)
  assert.equal((await c.brokerTopic(brokers[2], 'jobs')).channels.length, 0)

  ch.once('dialog', (d) => d.accept())
  await ch.getByTestId('delete').click()
  await ch.waitForURL(admin.url + '/', {waitUntil: 'commit'})
  await ch.getByTestId('topics-table').waitFor()
  assert.equal(await c.brokerTopic(brokers[0], 'jobs'), null)
  assert.equal(await c.brokerTopic(brokers[2], 'jobs'), null)
  await ch.close()
})

test('create a topic and channel through the lookup form', async () => {
  const p = await page(admin.url + '/lookup')
  await p.getByTestId('create-topic').fill('fresh')
  await p.getByTestId('create-channel').fill('first')
  await p.getByTestId('create-submit').click()
  await c.eventually(async () => {
    const r = await c.http('GET', discovery.http, '/channels?topic=fresh')
    return r.json && r.json.channels.includes('first')
  }, 'discovery lists fresh/first')
  await c.eventually(async () => (await p.locator('[data-testid="inactive-table"] tr[data-topic="fresh"]').count()) === 1,
    'fresh in the inactive table')
  assert.match(await p.locator('[data-testid="inactive-table"] tr[data-topic="fresh"]').textContent(), /first/)
  await shot(p, 'lookup')
  await p.close()
})

test('a non-admin user sees actions disabled and gets 403', async () => {
  const guarded = await c.startAdmin([`--discovery-address=${discovery.grpc}`, '--admin-user=alice'])
  const p = await page(guarded.url + '/topics/orders')
  await p.getByTestId('pause').waitFor()
  assert.equal(await p.getByTestId('pause').isDisabled(), true)
  assert.equal(await p.getByTestId('delete').isDisabled(), true)
  const r = await p.evaluate(async () => {
    const resp = await fetch('/api/topics/orders', {method: 'POST', body: JSON.stringify({action: 'pause'})})
    return {status: resp.status, body: await resp.json()}
  })
  assert.equal(r.status, 403)
  assert.equal(r.body.message, 'FORBIDDEN')
  assert.equal((await c.brokerTopic(brokers[0], 'orders')).paused, false)
  await shot(p, 'forbidden')
  await p.close()
  // The named admin (set by the authenticating proxy's header) may act.
  const ctx = await browser.newContext({extraHTTPHeaders: {'X-Forwarded-User': 'alice'}})
  const q = await ctx.newPage()
  await q.goto(guarded.url + '/topics/orders')
  await q.getByTestId('pause').waitFor()
  assert.equal(await q.getByTestId('pause').isDisabled(), false)
  await ctx.close()
})

test('a broker that goes away shows a warning banner', async () => {
  const lonely = await c.startBroker([])
  await publish(lonely, 'lonely', 1)
  const watcher = await c.startAdmin([`--discovery-address=${discovery.grpc}`, `--nsqd-http-address=${lonely.http}`,
    '--stats-interval=250ms', '--http-client-request-timeout=1s'])
  const p = await page(watcher.url + '/')
  await cellIs(p, 'topics-table', 'data-topic', 'lonely', 'message_count', 1)
  assert.equal(await p.getByTestId('banner').isHidden(), true)
  await lonely.stop('SIGKILL')
  await c.eventually(async () => /WARNING: .*broker/.test(await p.getByTestId('banner').textContent()), 'a warning banner')
  assert.match(await p.getByTestId('banner').textContent(), new RegExp(lonely.http.replace(/\./g, '\\.')))
  // The rest of the cluster is still shown.
  assert.equal(num(await cell(p, 'topics-table', 'data-topic', 'orders', 'message_count')), 5)
  await shot(p, 'broker-gone')
  await p.close()
})
