// The call list of nox_calls.py, run by `@ctrl/qbittorrent` (npm) against one qBittorrent Web
// API server (ttui's or qbittorrent-nox's); tests/faces/qbt_tools.rs runs it against both and
// nox_compare.py compares the answers. Keep it in step with nox_calls.py (its header lists
// the calls; nox_compare.py checks that every client recorded the same steps).
//
//   node nox_calls.mjs JOB.json OUT.json
//
// Each step's answer is recorded as the client returned it, "ok" for a call without an answer,
// or {"error": "..."} when the client threw; PHASE OK at the end.
import { readFileSync, writeFileSync } from 'node:fs';
import { QBittorrent } from '@ctrl/qbittorrent';

const [jobPath, outPath] = process.argv.slice(2);
const job = JSON.parse(readFileSync(jobPath, 'utf8'));
const t = job.torrents;
const [alpha, beta, gamma] = ['alpha', 'beta', 'gamma'].map((n) => t[n].hash);
const WAIT_MS = 20_000;
const PAUSED = new Set(['pausedUP', 'pausedDL', 'stoppedUP', 'stoppedDL']);
const SEEDING = new Set(['uploading', 'stalledUP', 'queuedUP', 'forcedUP']);
const which = 'ctrl';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const c = new QBittorrent({
  baseUrl: job.url,
  username: job.user,
  password: job.password,
  timeout: 15_000,
});
const out = {};

async function step(name, fn) {
  try {
    const got = await fn();
    out[name] = got === undefined || got === true ? 'ok' : got;
  } catch (e) {
    out[name] = { error: `${e.name}: ${e.message}` };
    console.error(`${name}: ${e.stack}`);
  }
  return out[name];
}

async function one(h) {
  const rows = await c.listTorrents({ hashes: h });
  return rows.length ? rows[0] : null;
}

// Polls torrents/info of `h` until `done(row)`; records the last row seen.
async function wait(name, h, done) {
  const end = Date.now() + WAIT_MS;
  for (;;) {
    const row = await step(name, () => one(h));
    if (done(row) || Date.now() > end) return row;
    await sleep(250);
  }
}

const state = (row) => (row && typeof row === 'object' ? row.state : undefined);
const add = (path, paused, category, tags) =>
  c.addTorrent(readFileSync(path), {
    savepath: job.lib,
    paused: paused ? 'true' : 'false',
    ...(category === undefined ? {} : { category }),
    ...(tags === undefined ? {} : { tags: tags.join(',') }),
    filename: 't.torrent',
  });

try {
  // login answers true; recorded as "ok" (the Python clients record true).
  const login = await step('login', () => c.login());
  if (login !== 'ok') throw new Error(`login failed: ${JSON.stringify(login)}`);
  out.login = true;
  await step('app/version', () => c.getAppVersion());
  await step('app/webapiVersion', () => c.getApiVersion());
  await step('app/preferences', () => c.getPreferences());
  if (job.setup) {
    await step('add alpha', () => add(t.alpha.path, false));
    await step('add beta', () => add(t.beta.path, true));
    await wait('setup: alpha seeding', alpha, (r) => SEEDING.has(state(r)) && r.progress === 1);
    await wait('setup: beta paused', beta, (r) => PAUSED.has(state(r)));
  }
  await step('torrents/info', () => c.listTorrents());
  for (const [n, h] of [['alpha', alpha], ['beta', beta]]) {
    await step(`torrents/properties ${n}`, () => c.torrentProperties(h));
    await step(`torrents/files ${n}`, () => c.torrentFiles(h));
    await step(`torrents/trackers ${n}`, () => c.torrentTrackers(h));
  }
  const [cat, tag, x] = [`cat-${which}`, `tag-${which}`, `x-${which}`];
  await step('createCategory', () => c.createCategory(cat, ''));
  await step('torrents/categories', () => c.getCategories());
  await step('createTags', () => c.createTags(tag));
  await step('addTags beta', () => c.addTorrentTags(beta, `${tag},${x}`));
  await step('torrents/tags', () => c.getTags());
  const full = await step('sync/maindata rid=0', () => c.getSyncMainData(0));
  await step('setCategory beta', () => c.setTorrentCategory(beta, cat));
  const rid = full && typeof full.rid === 'number' ? full.rid : 0;
  await step('sync/maindata rid=N', () => c.getSyncMainData(rid));
  await step('pause alpha', () => c.pauseTorrent(alpha));
  await wait('alpha once paused', alpha, (r) => PAUSED.has(state(r)));
  await step('resume alpha', () => c.resumeTorrent(alpha));
  await wait('alpha once resumed', alpha, (r) => SEEDING.has(state(r)));
  await step('rename beta', () => c.setTorrentName(beta, `beta-${which}`));
  // Read at once: qBittorrent lists the new name as soon as it answers.
  await step('beta once renamed', () => one(beta));
  await step('add gamma', () => add(t.gamma.path, true, cat, [tag]));
  await wait('gamma once added', gamma, (r) => PAUSED.has(state(r)));
  await step('delete gamma', () => c.removeTorrent(gamma, false));
  await wait('gamma once deleted', gamma, (r) => r === null);
} finally {
  writeFileSync(outPath, JSON.stringify(out, null, 1));
}
console.log('PHASE OK');
