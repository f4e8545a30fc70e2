// Benchmark of the admin over a big local cluster: 3 brokers (our nsqd) registered with our
// discovery, TOPICS topics x CHANNELS channels on every broker. Measures the admin's poll
// (wall time of a whole poll, CPU time per poll, bytes of stats per broker), its RSS, and
// how long the overview and a topic page take to render in chromium. Not a test: figures
// are printed, nothing is asserted.
//
//   bazel build //services/admin:nsqadmin //services/broker:nsqd //services/discovery:nsqlookupd
//   node services/admin/bench/admin_bench.js [TOPICS] [CHANNELS]
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const root = path.resolve(__dirname, '../../..')
process.env.NSQD_BIN = process.env.NSQD_BIN || path.join(root, 'bazel-bin/services/broker/nsqd')
process.env.NSQLOOKUPD_BIN = process.env.NSQLOOKUPD_BIN || path.join(root, 'bazel-bin/services/discovery/nsqlookupd')
process.env.NSQADMIN_BIN = process.env.NSQADMIN_BIN || path.join(root, 'bazel-bin/services/admin/nsqadmin')
const c = require(path.join(root, 'tests/browser/lib/cluster.js'))
const {chromium} = require(path.join(root, 'tests/browser/node_modules/playwright-core'))

const TOPICS = Number(process.argv[2] || 1000)
const CHANNELS = Number(process.argv[3] || 5)

function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return Number(m[1]) / 1024
}
function cpuSeconds(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(f[11]) + Number(f[12])) / 100  // utime + stime, clock ticks at 100 Hz
}
async function metric(url, name) {
  const r = await fetch(url + '/metrics')
  const m = new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(await r.text())
  return m ? Number(m[1]) : NaN
}

// Runs `fn` over `items` with at most `n` in flight.
async function pool(items, n, fn) {
  let i = 0
  await Promise.all(Array.from({length: n}, async () => {
    while (i < items.length) await fn(items[i++])
  }))
}

async function main() {
  const discovery = await c.startDiscovery()
  const brokers = []
  for (let i = 0; i < 3; i++) brokers.push(await c.startBroker([`--discovery-address=${discovery.grpc}`]))
  console.log(`creating ${TOPICS} topics x ${CHANNELS} channels on ${brokers.length} brokers...`)
  const t0 = Date.now()
  const work = []
  for (const b of brokers) for (let t = 0; t < TOPICS; t++) work.push([b, t])
  await pool(work, 16, async ([b, t]) => {
    await c.http('POST', b.http, `/pub?topic=bench_${t}`, 'x')
    for (let k = 0; k < CHANNELS; k++) await c.http('POST', b.http, `/channel/create?topic=bench_${t}&channel=ch_${k}`)
  })
  console.log(`created in ${((Date.now() - t0) / 1000).toFixed(1)} s`)

  const statsBytes = (await c.http('GET', brokers[0].http, '/stats?format=json&include_mem=false')).text.length
  // A 1 s interval over a 60 s window keeps the same 60 points per series as the defaults
  // (2 s over 15 min, one point per 15 s), so the rings are full after a minute.
  const admin = await c.startAdmin([`--discovery-address=${discovery.grpc}`, '--stats-interval=1s', '--history-window=60s'])
  const pid = admin.pid
  await c.eventually(async () => (await metric(admin.url, 'nsq_admin_polls_total')) >= 2, 'two polls')
  // CPU per poll over 10 polls.
  const p0 = await metric(admin.url, 'nsq_admin_polls_total')
  const cpu0 = cpuSeconds(pid)
  await c.eventually(async () => (await metric(admin.url, 'nsq_admin_polls_total')) >= p0 + 10, 'ten more polls', 60000)
  const p1 = await metric(admin.url, 'nsq_admin_polls_total')
  const cpuPerPoll = (cpuSeconds(pid) - cpu0) / (p1 - p0)
  const pollWall = await metric(admin.url, 'nsq_admin_poll_duration_seconds')

  const browser = await chromium.launch({executablePath: '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync']})
  const page = await browser.newPage({viewport: {width: 1280, height: 800}})
  const render = async (url, selector, rows) => {
    const times = []
    for (let i = 0; i < 3; i++) {
      const s = Date.now()
      await page.goto(url)
      await page.waitForFunction(([sel, n]) => document.querySelectorAll(sel).length >= n, [selector, rows], {timeout: 60000})
      times.push(Date.now() - s)
    }
    return Math.min(...times)
  }
  const overviewMs = await render(admin.url + '/', '[data-testid="topics-table"] tbody tr', TOPICS)
  const topicMs = await render(admin.url + '/topics/bench_7', '[data-testid="topic-channels"] tbody tr', CHANNELS)
  const apiStart = Date.now()
  const overview = await c.http('GET', admin.url.slice(7), '/api/overview')
  const apiMs = Date.now() - apiStart
  await browser.close()
  const rss = rssMiB(pid)
  // RSS once every ring is full.
  await c.eventually(async () => (await metric(admin.url, 'nsq_admin_polls_total')) >= 75, 'full history rings', 180000)
  const rssFull = rssMiB(pid)
  const series = await metric(admin.url, 'nsq_admin_history_series')
  console.log(JSON.stringify({
    brokers: brokers.length, topics: TOPICS, channels_per_topic: CHANNELS,
    stats_json_bytes_per_broker: statsBytes,
    poll_wall_ms: +(pollWall * 1000).toFixed(1),
    poll_cpu_ms: +(cpuPerPoll * 1000).toFixed(1),
    poll_cpu_ms_per_broker: +(cpuPerPoll * 1000 / brokers.length).toFixed(1),
    admin_rss_mib: +rss.toFixed(1),
    admin_rss_mib_full_history: +rssFull.toFixed(1), history_series: series,
    api_overview_ms: apiMs, api_overview_bytes: overview.text.length,
    overview_render_ms: overviewMs, topic_render_ms: topicMs,
  }, null, 1))
  await c.stopAll()
}

main().catch(async (e) => { console.error(e); await c.stopAll(); process.exit(1) })
