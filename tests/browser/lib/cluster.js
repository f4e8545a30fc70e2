// Starts our binaries (discovery, brokers, admin) on ephemeral loopback ports for one test
// file, reading the bound ports from their startup logs, and stops them afterwards.
'use strict'

const {spawn} = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const procs = []

// `listeners`: names in the log ("HTTP", "gRPC", "TCP") to wait for.
async function startService(bin, args, listeners) {
  const proc = spawn(bin, args, {stdio: ['ignore', 'ignore', 'pipe']})
  procs.push(proc)
  let log = ''
  const ports = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${bin} did not start:\n${log}`)), 30000)
    proc.on('exit', (code) => reject(new Error(`${bin} exited with ${code}:\n${log}`)))
    proc.stderr.on('data', (chunk) => {
      log += chunk
      const found = {}
      for (const name of listeners) {
        const m = new RegExp(`${name}: listening on (?:port |[0-9.]+:)(\\d+)`).exec(log)
        if (m) found[name] = Number(m[1])
      }
      if (Object.keys(found).length === listeners.length) {
        clearTimeout(timer)
        resolve(found)
      }
    })
  })
  proc.removeAllListeners('exit')
  return {
    ports,
    pid: proc.pid,
    log: () => log,
    async stop(signal = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      const exited = new Promise((resolve) => proc.on('exit', resolve))
      proc.kill(signal)
      await exited
    },
  }
}

function tmpDir(prefix) {
  return fs.mkdtempSync(path.join(process.env.TEST_TMPDIR || os.tmpdir(), prefix))
}

async function startDiscovery() {
  const d = await startService(process.env.NSQLOOKUPD_BIN, [
    '--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', '--grpc-address=127.0.0.1:0',
    '--broadcast-address=127.0.0.1',
  ], ['gRPC', 'TCP', 'HTTP'])
  return {...d, grpc: `127.0.0.1:${d.ports.gRPC}`, http: `127.0.0.1:${d.ports.HTTP}`, tcp: `127.0.0.1:${d.ports.TCP}`}
}

async function startBroker(extraArgs = []) {
  const b = await startService(process.env.NSQD_BIN, [
    '--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', '--grpc-address=127.0.0.1:0',
    '--https-address=127.0.0.1:0', '--broadcast-address=127.0.0.1', `--data-path=${tmpDir('nsqd-')}`,
    ...extraArgs,
  ], ['gRPC', 'HTTP', 'TCP'])
  return {...b, http: `127.0.0.1:${b.ports.HTTP}`, tcpPort: b.ports.TCP}
}

async function startAdmin(args) {
  const a = await startService(process.env.NSQADMIN_BIN, ['--http-address=127.0.0.1:0', ...args], ['HTTP'])
  return {...a, url: `http://127.0.0.1:${a.ports.HTTP}`}
}

async function stopAll() {
  await Promise.all(procs.map((p) => {
    if (p.exitCode !== null || p.signalCode !== null) return null
    const exited = new Promise((resolve) => p.on('exit', resolve))
    p.kill('SIGTERM')
    return exited
  }))
}

async function http(method, hostPort, target, body) {
  const resp = await fetch(`http://${hostPort}${target}`, {method, body})
  const text = await resp.text()
  let json = null
  try { json = JSON.parse(text) } catch (e) { /* not JSON */ }
  return {status: resp.status, text, json}
}

// The broker's own stats of `topic` (nsqd /stats JSON), null when absent.
async function brokerTopic(broker, topic) {
  const s = await http('GET', broker.http, `/stats?format=json&topic=${encodeURIComponent(topic)}`)
  return (s.json && s.json.topics || []).find((t) => t.topic_name === topic) || null
}

// A V2 consumer: SUB then RDY, on a raw socket.
function consume(broker, topic, channel, rdy) {
  const sock = net.connect(broker.tcpPort, '127.0.0.1')
  sock.on('error', () => {})
  sock.write(`  V2SUB ${topic} ${channel}\nRDY ${rdy}\n`)
  return sock
}

// Resolves when `fn()` resolves truthy, polling; rejects with the last value after `ms`.
async function eventually(fn, what, ms = 20000) {
  const deadline = Date.now() + ms
  let last
  for (;;) {
    try { last = await fn() } catch (e) { last = e }
    if (last && !(last instanceof Error)) return last
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${last && last.message || last}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

module.exports = {startDiscovery, startBroker, startAdmin, stopAll, http, brokerTopic, consume, eventually}
