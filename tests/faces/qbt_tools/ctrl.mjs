// Drives a ttui daemon's qBittorrent Web API with `@ctrl/qbittorrent` (npm), as a script
// written for qBittorrent would (tests/faces/qbt_tools.rs runs it with node).
//
//   node ctrl.mjs URL USER PASSWORD A_TORRENT A_HASH C_HASH SAVE_DIR main|remove
//
// `main`: logs in (a wrong password refused), adds A by file (category, tags, save path) and C by
// magnet (paused, category, tags), polls A to completion from the seeder with getAllData
// and listTorrents, reads it with getTorrent, pauses and resumes it, sets its category,
// adds and removes tags, then removes C. `remove`: removes A with its data. Prints one JSON line per step the
// Rust side checks against `ttui list --json`, and PHASE OK at the end; a failed check
// throws (exit 1).
import { readFileSync } from 'node:fs';
import { QBittorrent } from '@ctrl/qbittorrent';

const [url, username, password, aTorrent, aHash, cHash, saveDir, phase] = process.argv.slice(2);
const WAIT_MS = 90_000;

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function wait(what, pred) {
  const end = Date.now() + WAIT_MS;
  while (Date.now() < end) {
    const got = await pred();
    if (got) return got;
    await sleep(250);
  }
  throw new Error(`timed out: ${what}`);
}

function step(name, value) {
  console.log(JSON.stringify({ step: name, value }));
}

const wrong = new QBittorrent({ baseUrl: url, username, password: 'wrong', timeout: 15_000 });
let refused = false;
try {
  await wrong.login();
} catch {
  refused = true;
}
check(refused, 'a wrong password logs in');

const client = new QBittorrent({ baseUrl: url, username, password, timeout: 15_000 });
check(await client.login(), 'login');
if (phase === 'remove') {
  // After the Rust side saw A's data: A removed with it.
  await client.removeTorrent(aHash, true);
  await wait('A gone', async () => (await client.listTorrents({ hashes: aHash })).length === 0);
  console.log('PHASE OK');
  process.exit(0);
}
const version = await client.getApiVersion();
check(version.startsWith('2.'), `webapiVersion ${version}`);

// A category made first, as Sonarr's client does, and one named only by the add.
await client.createCategory('tv', '');
await client.addTorrent(readFileSync(aTorrent), {
  category: 'tv',
  tags: 'hd,new',
  savepath: saveDir,
  filename: 'alpha.torrent',
});
await client.addMagnet(`magnet:?xt=urn:btih:${cHash}&dn=gamma.bin`, {
  category: 'films',
  tags: 'later',
  paused: 'true',
});

// A completes from the seeder: getAllData's normalized rows, listTorrents' raw ones.
const done = await wait('A completes', async () => {
  const all = await client.getAllData();
  const a = all.torrents.find((t) => t.id === aHash);
  return a && a.isCompleted ? all : null;
});
const a = done.torrents.find((t) => t.id === aHash);
check(a.label === 'tv', `A's label ${a.label}`);
check(a.savePath.replace(/\/$/, '') === saveDir, `A's save path ${a.savePath}`);
check(done.labels.some((l) => l.id === 'tv'), `labels ${JSON.stringify(done.labels)}`);
const raw = await client.listTorrents({ hashes: aHash });
check(raw.length === 1 && raw[0].tags === 'hd, new', `A's tags ${JSON.stringify(raw)}`);
const c = await client.getTorrent(cHash);
check(c.label === 'films' && c.raw.tags === 'later', `C ${JSON.stringify(c.raw)}`);
check(['pausedDL', 'stoppedDL'].includes(c.raw.state) && c.stateMessage !== undefined,
  `C paused: ${c.raw.state}`);
check(c.state === 'paused', `C's normalized state ${c.state}`);
step('added', { a: a.name, c: c.name });

// Pause and resume A, each seen in getTorrent's raw row (its normalized state says
// `seeding` for a paused complete torrent too).
const rawState = async () => (await client.getTorrent(aHash)).raw.state;
await client.pauseTorrent(aHash);
await wait('A paused', async () => ['pausedUP', 'stoppedUP'].includes(await rawState()));
step('paused', await rawState());
await client.resumeTorrent(aHash);
await wait('A resumed', async () => ['uploading', 'stalledUP', 'queuedUP'].includes(await rawState()));

// Category and tags.
await client.createCategory('archive', '');
await client.setTorrentCategory(aHash, 'archive');
await client.addTorrentTags(aHash, 'kept');
await client.removeTorrentTags(aHash, 'new');
const edited = (await client.listTorrents({ hashes: aHash }))[0];
check(edited.category === 'archive', `A's category ${edited.category}`);
check(edited.tags === 'hd, kept', `A's tags ${edited.tags}`);
const byCategory = await client.listTorrents({ category: 'archive' });
check(byCategory.length === 1 && byCategory[0].hash === aHash, 'listTorrents by category');
step('edited', { category: edited.category, tags: edited.tags });

// C removed (it has no data yet).
await client.removeTorrent(cHash, false);
await wait('C gone', async () => (await client.listTorrents({ hashes: cHash })).length === 0);
step('removed', cHash);
console.log('PHASE OK');
