// nsqjs (the real client, from npm) against our broker's legacy gateway: NSQ TCP
// protocol V2, with snappy, deflate and TLS, and a V2 consumer sharing a channel with a
// gRPC consumer. Run by node's built-in test runner (see run_node_tests.sh).
'use strict'

const assert = require('node:assert/strict')
const {spawn} = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const {after, before, describe, test} = require('node:test')
const nsq = require('nsqjs')
const {startBroker, waitFor} = require('./lib/broker')

const TESTDATA = process.env.GATEWAY_TESTDATA
let broker

before(async () => {
  broker = await startBroker([
    `--tls-cert=${path.join(TESTDATA, 'server.pem')}`,
    `--tls-key=${path.join(TESTDATA, 'server.key')}`,
  ])
})
after(async () => {
  if (broker) await broker.stop()
})

let topicSeq = 0
function freshTopic(name) {
  return `${name}_${process.pid}_${topicSeq++}`
}

async function connectWriter(options = {}) {
  const writer = new nsq.Writer('127.0.0.1', broker.tcp, options)
  await new Promise((resolve, reject) => {
    writer.once('ready', resolve)
    writer.once('error', reject)
    writer.connect()
  })
  return writer
}

function publish(writer, topic, msgs) {
  return new Promise((resolve, reject) => {
    writer.publish(topic, msgs, (err) => (err ? reject(err) : resolve()))
  })
}

function startReader(topic, channel, options, onMessage) {
  const reader = new nsq.Reader(topic, channel, {
    nsqdTCPAddresses: [broker.tcpAddress],
    ...options,
  })
  reader.on('message', onMessage)
  reader.on('error', () => {})
  reader.connect()
  return reader
}

async function roundTrip(count, options = {}) {
  const topic = freshTopic('roundtrip')
  const writer = await connectWriter(options)
  const bodies = []
  for (let i = 0; i < count; i++) bodies.push(`message-${i}`)
  for (let i = 0; i < count; i += 500) {
    await publish(writer, topic, bodies.slice(i, i + 500))
  }
  const seen = new Set()
  const reader = startReader(topic, 'ch', {maxInFlight: 500, ...options}, (msg) => {
    seen.add(msg.body.toString())
    msg.finish()
  })
  try {
    await waitFor(() => seen.size === count, 60000, `${count} messages`)
    assert.equal(seen.size, count)
    for (const b of bodies) assert.ok(seen.has(b), b)
  } finally {
    reader.close()
    writer.close()
  }
}

describe('nsqjs against the legacy gateway', () => {
  test('publishes and consumes 10,000 messages', async () => {
    await roundTrip(10000)
  })

  test('publishes and consumes with snappy compression', async () => {
    await roundTrip(2000, {snappy: true})
  })

  test('publishes and consumes with deflate compression', async () => {
    await roundTrip(2000, {deflate: true, deflateLevel: 6})
  })

  test('publishes and consumes over TLS', async () => {
    const ca = fs.readFileSync(path.join(TESTDATA, 'ca.pem'))
    await roundTrip(2000, {tls: true, tlsVerification: true, ca})
  })

  test('a requeued message comes back with its attempts counted', async () => {
    const topic = freshTopic('requeue')
    const writer = await connectWriter()
    await publish(writer, topic, 'again')
    const attempts = []
    const reader = startReader(topic, 'ch', {maxInFlight: 1}, (msg) => {
      attempts.push(msg.attempts)
      if (msg.attempts < 3) msg.requeue(0, false)
      else msg.finish()
    })
    try {
      await waitFor(() => attempts.length === 3, 20000, 'three deliveries')
      assert.deepEqual(attempts, [1, 2, 3])
    } finally {
      reader.close()
      writer.close()
    }
  })

  test('a deferred publish arrives after its delay', async () => {
    const topic = freshTopic('dpub')
    const writer = await connectWriter()
    let arrivedAt = 0
    const reader = startReader(topic, 'ch', {maxInFlight: 1}, (msg) => {
      arrivedAt = Date.now()
      assert.equal(msg.body.toString(), 'later')
      msg.finish()
    })
    try {
      // Subscribe first so the channel exists, then DPUB.
      await waitFor(() => reader.readerRdy && reader.readerRdy.connections.length === 1, 10000, 'reader')
      const sentAt = Date.now()
      await new Promise((resolve, reject) =>
        writer.deferPublish(topic, ['later'], 1000, (err) => (err ? reject(err) : resolve())))
      await waitFor(() => arrivedAt > 0, 10000, 'the deferred message')
      assert.ok(arrivedAt - sentAt >= 900, `arrived after ${arrivedAt - sentAt} ms`)
    } finally {
      reader.close()
      writer.close()
    }
  })

  test('touch keeps a slow message in flight past its timeout', async () => {
    const topic = freshTopic('touch')
    const writer = await connectWriter()
    await publish(writer, topic, 'slow')
    const deliveries = []
    const reader = startReader(topic, 'ch', {maxInFlight: 1, messageTimeout: 1000}, (msg) => {
      deliveries.push(msg.attempts)
      let touches = 0
      const timer = setInterval(() => {
        if (++touches < 6) {
          msg.touch()
        } else {
          clearInterval(timer)
          msg.finish()
        }
      }, 400)
    })
    try {
      await waitFor(() => deliveries.length === 1, 10000, 'the message')
      await new Promise((r) => setTimeout(r, 3000))  // 2.4 s of touching, then FIN
      assert.deepEqual(deliveries, [1])
    } finally {
      reader.close()
      writer.close()
    }
  })

  test('a V2 consumer and a gRPC consumer share one channel', async () => {
    const topic = freshTopic('shared')
    const py = spawn('/usr/bin/python3',
      [path.join(__dirname, 'grpc_consumer.py'), String(broker.grpc), topic, 'shared'],
      {env: {...process.env, PYTHONPATH: process.env.NSQ_PROTO_PYTHONPATH}, stdio: ['ignore', 'pipe', 'inherit']})
    const grpcBodies = []
    let subscribed = false
    let buf = ''
    py.stdout.on('data', (chunk) => {
      buf += chunk
      const lines = buf.split('\n')
      buf = lines.pop()
      for (const line of lines) {
        if (line === 'SUBSCRIBED') subscribed = true
        else grpcBodies.push(line)
      }
    })
    const v2Bodies = []
    const reader = startReader(topic, 'shared', {maxInFlight: 50}, (msg) => {
      v2Bodies.push(msg.body.toString())
      msg.finish()
    })
    const writer = await connectWriter()
    try {
      await waitFor(() => subscribed, 20000, 'the gRPC consumer')
      await waitFor(() => reader.readerRdy && reader.readerRdy.connections.length === 1, 10000, 'reader')
      const bodies = []
      for (let i = 0; i < 2000; i++) bodies.push(`shared-${i}`)
      for (let i = 0; i < bodies.length; i += 100) {
        await publish(writer, topic, bodies.slice(i, i + 100))
      }
      await waitFor(() => grpcBodies.length + v2Bodies.length >= 2000, 30000, 'all messages')
      const all = new Set([...grpcBodies, ...v2Bodies])
      assert.equal(all.size, 2000)
      assert.ok(grpcBodies.length > 0, 'the gRPC consumer got none')
      assert.ok(v2Bodies.length > 0, 'the V2 consumer got none')
    } finally {
      py.kill()
      reader.close()
      writer.close()
    }
  })

  test('HTTP /pub and /stats work alongside', async () => {
    const topic = freshTopic('http')
    const base = `http://127.0.0.1:${broker.http}`
    let res = await fetch(`${base}/pub?topic=${topic}`, {method: 'POST', body: 'via-http'})
    assert.equal(res.status, 200)
    assert.equal(await res.text(), 'OK')
    res = await fetch(`${base}/stats?format=json&topic=${topic}`)
    assert.equal(res.headers.get('x-nsq-content-type'), 'nsq; version=1.0')
    const stats = await res.json()
    assert.equal(stats.topics[0].topic_name, topic)
    assert.equal(stats.topics[0].message_count, 1)
  })
})
