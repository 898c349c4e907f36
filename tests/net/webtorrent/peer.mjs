// A WebTorrent peer for the tests: the `webtorrent` package (3.x) in Node, reachable over
// WebRTC data channels only, its peers found through a WebSocket tracker on loopback
// (tests/net/ws_tracker/server.mjs).
//
//   node peer.mjs seed <file> --tracker ws://127.0.0.1:PORT [--piece-length N]
//       makes a torrent of <file> (its announce list: that tracker alone; not private),
//       writes it to <file>.torrent and seeds.
//   node peer.mjs seed-torrent <file.torrent> <dir> [--tracker URL]
//       seeds the data of <file.torrent> found in <dir> (checked first).
//   node peer.mjs leech <magnet | file.torrent> <outdir> [--tracker URL]
//       downloads into <outdir>, then goes on seeding.
//   Each mode also takes --stun IP:PORT: the STUN server WebRTC asks for the address its NAT
//   shows (a server-reflexive candidate); none by default.
//
// Packages come from $TTUI_NODE_MODULES/node_modules (tests/run.sh's node_packages), by
// absolute path: NODE_PATH plays no part.
//
// stdout: one JSON object a line, each with "ms": milliseconds since the process started:
//   {"event":"ready","infoHash":HEX,"magnet":URI,"torrentFile":PATH,"name":..,"length":N,
//    "pieceLength":N}       the torrent is added (seed: made; leech: given)
//   {"event":"metadata","infoHash":..,"name":..,"length":N}   leech: the info dict is known
//   {"event":"wire","peer":PEER_ID_HEX,"type":"webrtc","addr":..}  each new connection
//   {"event":"upload","bytes":TOTAL}  / {"event":"download","bytes":TOTAL}  at most once a
//                                     second while data moves
//   {"event":"done","path":PATH,"bytes":N}   leech: every piece is in and verified
//   {"event":"warning","message":..}
//   {"event":"error","message":..}           then exits 1
// The peer ends (exit 0) when its stdin closes; a test ends it that way or by its pid.
//
// Network: nothing but the tracker named, the STUN server named, and the peers the tracker
// introduces. dht, lsd, natUpnp, natPmp, utp, utPex and webSeeds are off; the WebRTC
// configuration has no ICE server but the one --stun names (so no other STUN request:
// simple-peer's default lists Google's and Twilio's STUN servers, and bittorrent-tracker
// passes `rtcConfig` to simple-peer as `config`, which replaces `iceServers` whole); the TCP
// listener WebTorrent's Node client always opens (lib/conn-pool.js, no option to skip it) is
// closed as soon as it listens, and the WebSocket tracker protocol
// carries no port, so the peer is reachable over WebRTC alone.
//
// WebRTC: @thaunknown/simple-peer imports RTCPeerConnection from `webrtc-polyfill`, which
// is node-datachannel, a native module whose binary its install script downloads from
// GitHub; our machines reach package registries only, so that download fails. This peer
// maps `webrtc-polyfill` onto @roamhq/wrtc (libwebrtc, its binary shipped inside the npm
// package @roamhq/wrtc-linux-x64) with a resolve hook: wrtc-hooks.mjs, wrtc-polyfill.mjs.
import { register } from 'node:module'
import { pathToFileURL } from 'node:url'
import fs from 'node:fs'
import path from 'node:path'

const say = (obj) =>
  process.stdout.write(JSON.stringify({ ...obj, ms: Math.round(performance.now()) }) + '\n')
const fail = (err) => {
  say({ event: 'error', message: String((err && err.message) || err) })
  process.exit(1)
}
process.on('uncaughtException', fail)
process.on('unhandledRejection', fail)

const modules = process.env.TTUI_NODE_MODULES
if (!modules) fail('TTUI_NODE_MODULES is not set')

const argv = process.argv.slice(2)
const flags = {}
const args = []
for (let i = 0; i < argv.length; i++) {
  if (argv[i].startsWith('--')) flags[argv[i].slice(2)] = argv[++i]
  else args.push(argv[i])
}
const [mode, first, second] = args
const tracker = flags.tracker
if (!['seed', 'seed-torrent', 'leech'].includes(mode) || !first) {
  fail('usage: peer.mjs seed FILE --tracker URL | seed-torrent FILE.torrent DIR | leech ID OUTDIR')
}
if (mode === 'seed' && !tracker) fail('seed needs --tracker')
if (mode !== 'seed' && !second) fail(`${mode} needs a directory`)

// The one ICE server wrtc-polyfill.mjs lets through.
if (flags.stun) process.env.TTUI_TEST_STUN = flags.stun
register('./wrtc-hooks.mjs', import.meta.url)
const { default: WebTorrent } = await import(
  pathToFileURL(`${modules}/node_modules/webtorrent/index.js`).href
)

const client = new WebTorrent({
  dht: false,
  lsd: false,
  natUpnp: false,
  natPmp: false,
  utp: false,
  utPex: false,
  webSeeds: false,
  tracker: {
    ...(tracker ? { announce: [tracker] } : {}),
    rtcConfig: { iceServers: flags.stun ? [{ urls: `stun:${flags.stun}` }] : [] }
  }
})
client.on('error', fail)
// No TCP peers: close the listener WebTorrent opens on every interface.
const tcp = client._connPool && client._connPool.tcpServer
if (tcp) tcp.once('listening', () => tcp.close())

process.stdin.on('data', () => {})
process.stdin.on('end', () => process.exit(0))
process.stdin.on('close', () => process.exit(0))
process.stdin.resume()

const announce = tracker ? [tracker] : undefined

function watch (torrent, extra) {
  torrent.on('error', fail)
  torrent.on('warning', (err) => say({ event: 'warning', message: String(err && err.message) }))
  torrent.on('wire', (wire, addr) => {
    say({ event: 'wire', peer: wire.peerId, type: wire.type, addr: addr || null })
  })
  for (const dir of ['upload', 'download']) {
    let last = 0
    let timer = null
    torrent.on(dir, () => {
      if (timer) return
      const wait = Math.max(0, last + 1000 - Date.now())
      timer = setTimeout(() => {
        timer = null
        last = Date.now()
        say({ event: dir, bytes: dir === 'upload' ? torrent.uploaded : torrent.downloaded })
      }, wait)
    })
  }
  const ready = () => say({
    event: 'ready',
    infoHash: torrent.infoHash,
    magnet: torrent.magnetURI,
    name: torrent.name,
    length: torrent.length,
    pieceLength: torrent.pieceLength,
    ...extra()
  })
  return ready
}

if (mode === 'seed') {
  const file = path.resolve(first)
  const opts = {
    announce,
    announceList: [[tracker]],
    private: false,
    urlList: []
  }
  if (flags['piece-length']) opts.pieceLength = Number(flags['piece-length'])
  client.seed(file, opts, (torrent) => {
    const torrentFile = `${file}.torrent`
    fs.writeFileSync(torrentFile, torrent.torrentFile)
    watch(torrent, () => ({ torrentFile }))()
  })
} else if (mode === 'seed-torrent') {
  const torrentFile = path.resolve(first)
  const torrent = client.add(fs.readFileSync(torrentFile), { path: path.resolve(second), announce })
  const ready = watch(torrent, () => ({ torrentFile }))
  // 'ready' once its data is checked; `done` is set right after (lib/torrent.js: emit('ready'),
  // then _checkDone()). Seeding only if all of it was there.
  torrent.once('ready', () => setImmediate(() => {
    if (!torrent.done) fail(`${second}: the data is incomplete (${torrent.downloaded} of ${torrent.length} bytes verified)`)
    ready()
  }))
} else {
  const outdir = path.resolve(second)
  fs.mkdirSync(outdir, { recursive: true })
  const id = /^magnet:/.test(first) ? first : fs.readFileSync(path.resolve(first))
  const torrent = client.add(id, { path: outdir, announce })
  const ready = watch(torrent, () => ({ torrentFile: /^magnet:/.test(first) ? null : path.resolve(first) }))
  if (torrent.infoHash) ready()
  else torrent.once('infoHash', ready)
  torrent.once('metadata', () => {
    say({ event: 'metadata', infoHash: torrent.infoHash, name: torrent.name, length: torrent.length })
  })
  torrent.once('done', () => {
    say({ event: 'done', path: path.join(outdir, torrent.name), bytes: torrent.length })
  })
}
