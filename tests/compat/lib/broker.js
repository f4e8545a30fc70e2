// Starts the nsqd binary (NSQD_BIN) on ephemeral loopback ports for one test file and
// stops it afterwards. The ports are read from its startup log.
'use strict'

const {spawn} = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

async function startBroker(extraArgs = []) {
  const dataPath = fs.mkdtempSync(path.join(process.env.TEST_TMPDIR || os.tmpdir(), 'nsqd-'))
  const proc = spawn(process.env.NSQD_BIN, [
    '--tcp-address=127.0.0.1:0', '--http-address=127.0.0.1:0', '--grpc-address=127.0.0.1:0',
    '--https-address=127.0.0.1:0',
    `--data-path=${dataPath}`, ...extraArgs,
  ], {stdio: ['ignore', 'ignore', 'pipe']})
  let log = ''
  const ports = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nsqd did not start:\n${log}`)), 30000)
    proc.on('exit', (code) => reject(new Error(`nsqd exited with ${code}:\n${log}`)))
    proc.stderr.on('data', (chunk) => {
      log += chunk
      const tcp = /TCP: listening on 127\.0\.0\.1:(\d+)/.exec(log)
      const http = /HTTP: listening on 127\.0\.0\.1:(\d+)/.exec(log)
      const grpc = /gRPC: listening on 127\.0\.0\.1:(\d+)/.exec(log)
      if (tcp && http && grpc) {
        clearTimeout(timer)
        resolve({tcp: Number(tcp[1]), http: Number(http[1]), grpc: Number(grpc[1])})
      }
    })
  })
  proc.removeAllListeners('exit')
  return {
    ...ports,
    tcpAddress: `127.0.0.1:${ports.tcp}`,
    log: () => log,
    async stop() {
      if (proc.exitCode !== null) return
      const exited = new Promise((resolve) => proc.on('exit', resolve))
      proc.kill('SIGTERM')
      await exited
    },
  }
}

// Resolves when `predicate()` holds, polling; rejects after `ms`.
async function waitFor(predicate, ms = 20000, what = 'condition') {
  const deadline = Date.now() + ms
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

module.exports = {startBroker, waitFor}
