// Drives Flood (npm `flood`, its qBittorrent backend pointed at ttui) through Flood's own
// HTTP API, the calls its web page makes (tests/faces/qbt_tools.rs starts Flood with --auth none).
//
//   node flood.mjs FLOOD_URL A_HASH B_TORRENT DESTINATION
//
// Waits until Flood answers and says its client is connected, until its torrent list shows
// A (added to ttui with `ttui add`), then adds B as a file (stopped, tagged `flood`, into
// DESTINATION) and waits until Flood lists B too. Prints PHASE OK; a failed check throws.
import { readFileSync } from 'node:fs';

const [flood, aHash, bTorrent, destination] = process.argv.slice(2);
const WAIT_MS = 60_000;
let cookie = '';

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function wait(what, pred) {
  const end = Date.now() + WAIT_MS;
  let last;
  while (Date.now() < end) {
    try {
      const got = await pred();
      if (got) return got;
    } catch (e) {
      last = e;
    }
    await sleep(500);
  }
  throw new Error(`timed out: ${what} (${last})`);
}

async function call(method, path, body) {
  const r = await fetch(`${flood}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', Cookie: cookie },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await r.text();
  return { status: r.status, text, json: () => JSON.parse(text) };
}

// With --auth none, verify hands out the session cookie.
await wait('Flood answers /api/auth/verify', async () => {
  const r = await fetch(`${flood}/api/auth/verify`, { signal: AbortSignal.timeout(5_000) });
  const set = r.headers.getSetCookie().map((c) => c.split(';')[0]);
  cookie = set.join('; ');
  return r.status === 200 && cookie !== '';
});
const connected = await wait('Flood connected to ttui', async () => {
  const r = await call('GET', '/api/client/connection-test');
  return r.status === 200 && r.json().isConnected === true ? r.json() : null;
});
console.log(JSON.stringify({ step: 'connected', value: connected }));

const torrents = async () => {
  const r = await call('GET', '/api/torrents');
  check(r.status === 200, `GET /api/torrents: ${r.status} ${r.text}`);
  return r.json().torrents;
};
const a = await wait('Flood lists A', async () => (await torrents())[aHash.toUpperCase()]);
check(a.name === 'alpha.bin', `A's name in Flood: ${a.name}`);
check(a.percentComplete === 100, `A complete in Flood: ${a.percentComplete}`);
console.log(JSON.stringify({ step: 'listed', value: { name: a.name, status: a.status } }));

const added = await call('POST', '/api/torrents/add-files', {
  files: [readFileSync(bTorrent).toString('base64')],
  destination,
  tags: ['flood'],
  start: false,
});
check(added.status === 200, `add-files: ${added.status} ${added.text}`);
const hashes = added.json();
console.log(JSON.stringify({ step: 'added', value: hashes }));
const b = await wait('Flood lists B', async () => (await torrents())[hashes[0].toUpperCase()]);
check(b.name === 'beta', `B's name in Flood: ${b.name}`);
check(b.tags.includes('flood'), `B's tags in Flood: ${b.tags}`);
console.log('PHASE OK');
