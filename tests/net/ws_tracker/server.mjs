// The WebTorrent tracker of tests/net/ws_tracker.rs: the `bittorrent-tracker` package's own
// server with its WebSocket side only (no HTTP announces, no UDP, no stats page), on
// 127.0.0.1 (or the address given) and a port of the system's choosing (or the one given).
//
//   node server.mjs NODE_MODULES [IP [PORT]]
//
// stdout: `listening PORT`, then one JSON line per announce the server took
// ({"event":"start","peer_id":HEX}: start, update, complete or stop; a socket that closes
// without `stopped` makes none) and per warning ({"warning":TEXT}).
// stdin: `swarm HASH_HEX` answers one JSON line, the server's own counts for that torrent
// ({"complete":N,"incomplete":N}); `offer HASH_HEX N` has a browser-like leecher join the
// swarm over its own WebSocket with N WebRTC offers (fake SDP; `offer HASH N SDP_AS_JSON`
// sends that SDP instead), which the server relays to
// peers of the swarm, and answers {"offered":N,"relayed_to":PEERS} once the server answered
// it (the leecher stays, its socket open). The server ends when stdin closes.
import readline from 'node:readline'
import { pathToFileURL } from 'node:url'

const modules = process.argv[2]
// By path: ES modules ignore NODE_PATH. The server alone: the package's index also loads its
// client, whose WebRTC binding is not built here.
const { default: Server } = await import(
  pathToFileURL(`${modules}/bittorrent-tracker/server.js`).href
)

const { WebSocket } = await import(pathToFileURL(`${modules}/ws/wrapper.mjs`).href)

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

server.listen(Number(process.argv[4]) || 0, process.argv[3] || '127.0.0.1', () => {
  process.stdout.write(`listening ${server.ws.address().port}\n`)
})

const lines = readline.createInterface({ input: process.stdin })
lines.on('line', (line) => {
  const [verb, hash] = line.trim().split(/\s+/)
  if (verb === 'offer') {
    // `offer HASH N [SDP]`: the SDP, when given, is one JSON string (a real offer).
    const m = line.trim().match(/^offer \S+ (\d+)(?: (.*))?$/)
    offer(hash, Number(m && m[1]) || 1, m && m[2] ? JSON.parse(m[2]) : null)
  } else if (verb === 'swarm') {
    const swarm = server.torrents[hash]
    say({ complete: swarm ? swarm.complete : 0, incomplete: swarm ? swarm.incomplete : 0 })
  }
})
lines.on('close', () => server.close(() => process.exit(0)))

// 20 bytes as the protocol's "binary" string: one character per byte.
const binary = (hex) => Buffer.from(hex, 'hex').toString('latin1')
const browsers = []

function offer (hash, n, sdp) {
  const peerId = '-WW0100-' + String(browsers.length).padStart(12, '0')
  const before = server.torrents[hash] ? server.torrents[hash].peers.length : 0
  const { address, port } = server.ws.address()
  const socket = new WebSocket(`ws://${address}:${port}`)
  browsers.push(socket)
  socket.on('open', () => {
    const offers = []
    for (let i = 0; i < n; i++) {
      offers.push({
        offer: { type: 'offer', sdp: sdp || `v=0\r\no=- ${i} 2 IN IP4 127.0.0.1\r\n` },
        offer_id: binary(String(i).padStart(40, '0'))
      })
    }
    socket.send(JSON.stringify({
      action: 'announce',
      info_hash: binary(hash),
      peer_id: peerId,
      uploaded: 0,
      downloaded: 0,
      left: 1000,
      event: 'started',
      numwant: n,
      offers
    }))
  })
  socket.once('message', () => {
    // The server relays one offer to each of at most N peers already in the swarm.
    say({ offered: n, relayed_to: Math.min(n, before) })
  })
}
