// The WebTorrent tracker of tests/net/ws_tracker.rs: the `bittorrent-tracker` package's own
// server with its WebSocket side only (no HTTP announces, no UDP, no stats page), on
// 127.0.0.1 and a port of the system's choosing.
//
//   node server.mjs NODE_MODULES
//
// stdout: `listening PORT`, then one JSON line per announce the server took
// ({"event":"start","peer_id":HEX}: start, update, complete or stop; a socket that closes
// without `stopped` makes none) and per warning ({"warning":TEXT}).
// stdin: `swarm HASH_HEX` answers one JSON line, the server's own counts for that torrent
// ({"complete":N,"incomplete":N}). The server ends when stdin closes.
import readline from 'node:readline'
import { pathToFileURL } from 'node:url'

const modules = process.argv[2]
// By path: ES modules ignore NODE_PATH. The server alone: the package's index also loads its
// client, whose WebRTC binding is not built here.
const { default: Server } = await import(
  pathToFileURL(`${modules}/bittorrent-tracker/server.js`).href
)

const server = new Server({ http: false, udp: false, ws: true, stats: false })
const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

for (const event of ['start', 'update', 'complete', 'stop']) {
  server.on(event, (peerId, params) => say({ event, peer_id: peerId, info_hash: params.info_hash }))
}
server.on('warning', (err) => say({ warning: String(err && err.message) }))
server.on('error', (err) => {
  say({ error: String(err && err.message) })
  process.exit(1)
})

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.ws.address().port}\n`)
})

const lines = readline.createInterface({ input: process.stdin })
lines.on('line', (line) => {
  const [verb, hash] = line.trim().split(/\s+/)
  if (verb === 'swarm') {
    const swarm = server.torrents[hash]
    say({ complete: swarm ? swarm.complete : 0, incomplete: swarm ? swarm.incomplete : 0 })
  }
})
lines.on('close', () => server.close(() => process.exit(0)))
