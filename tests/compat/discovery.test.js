// nsqjs (the real client, from npm) finding two brokers through our discovery service's
// lookupd HTTP API (lookupdHTTPAddresses), as it would with a stock nsqlookupd. Run by
// node's built-in test runner (see run_node_tests.sh).
'use strict'

const assert = require('node:assert/strict')
const {spawn} = require('node:child_process')
const path = require('node:path')
const {after, before, test} = require('node:test')
const nsq = require('nsqjs')
const {startBroker, waitFor} = require('./lib/broker')

// Beside nsqd in the runfiles tree: services/discovery/nsqlookupd.
const NSQLOOKUPD_BIN = path.join(path.dirname(process.env.NSQD_BIN), '..', 'discovery', 'nsqlookupd')

async function startDiscovery() {
  const proc = spawn(NSQLOOKUPD_BIN, [
    '--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', '--grpc-address=127.0.0.1:0',
    '--broadcast-address=127.0.0.1',
  ], {stdio: ['ignore', 'ignore', 'pipe']})
  let log = ''
  const ports = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nsqlookupd did not start:\n${log}`)), 30000)
    proc.on('exit', (code) => reject(new Error(`nsqlookupd exited with ${code}:\n${log}`)))
    proc.stderr.on('data', (chunk) => {
      log += chunk
      const grpc = /gRPC: listening on port (\d+)/.exec(log)
      const http = /HTTP: listening on 127\.0\.0\.1:(\d+)/.exec(log)
      if (grpc && http) {
        clearTimeout(timer)
        resolve({grpc: Number(grpc[1]), http: Number(http[1])})
      }
    })
  })
  proc.removeAllListeners('exit')
  return {
    ...ports,
    async stop() {
      if (proc.exitCode !== null) return
      const exited = new Promise((resolve) => proc.on('exit', resolve))
      proc.kill('SIGTERM')
      await exited
    },
  }
}

let discovery
const brokers = []

before(async () => {
  discovery = await startDiscovery()
  for (let i = 0; i < 2; i++) {
    brokers.push(await startBroker([
      `--discovery-address=127.0.0.1:${discovery.grpc}`, '--broadcast-address=127.0.0.1',
    ]))
  }
})
after(async () => {
  for (const b of brokers) await b.stop()
  if (discovery) await discovery.stop()
})

async function publish(broker, topic, msgs) {
  const writer = new nsq.Writer('127.0.0.1', broker.tcp)
  await new Promise((resolve, reject) => {
    writer.once('ready', resolve)
    writer.once('error', reject)
    writer.connect()
  })
  await new Promise((resolve, reject) => {
    writer.publish(topic, msgs, (err) => (err ? reject(err) : resolve()))
  })
  writer.close()
}

async function lookupProducers(topic) {
  const res = await fetch(`http://127.0.0.1:${discovery.http}/lookup?topic=${topic}`)
  if (res.status !== 200) return []
  return (await res.json()).producers
}

test('a Reader with lookupdHTTPAddresses receives from both brokers', async () => {
  const topic = `lookup_${process.pid}`
  const expected = new Set()
  for (const [i, broker] of brokers.entries()) {
    const bodies = []
    for (let j = 0; j < 50; j++) bodies.push(`broker${i}-${j}`)
    await publish(broker, topic, bodies)
    bodies.forEach((b) => expected.add(b))
  }
  // Both brokers registered the topic, with their NSQ TCP ports.
  let producers = []
  const deadline = Date.now() + 10000
  while (Date.now() < deadline) {
    producers = await lookupProducers(topic)
    if (producers.length === 2) break
    await new Promise((r) => setTimeout(r, 20))
  }
  assert.deepEqual(producers.map((p) => p.tcp_port).sort(), brokers.map((b) => b.tcp).sort())

  const seen = new Set()
  const reader = new nsq.Reader(topic, 'ch', {
    lookupdHTTPAddresses: [`127.0.0.1:${discovery.http}`],
    maxInFlight: 20,
  })
  reader.on('message', (msg) => {
    seen.add(msg.body.toString())
    msg.finish()
  })
  reader.on('error', () => {})
  reader.connect()
  try {
    await waitFor(() => seen.size === expected.size, 30000, `${expected.size} messages`)
    for (const b of expected) assert.ok(seen.has(b), b)
  } finally {
    reader.close()
  }
})
