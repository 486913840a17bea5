#!/usr/bin/env node
// The glass-to-glass latency runner: plays one stream in headless Chromium with hls.js or the Amazon IVS web
// player, like the real-player harness (test/player/play.mjs, whose page script test/player/page/page.js it
// loads unchanged, and whose npm packages in test/player/node_modules it uses), and in addition reads the capture
// time stamped into every presented frame (page/stamp.js). It prints one JSON document on stdout:
//   {samples, cues, errors, fatal, events, frames: [{displayMs, cbMs, stamp, mediaTime}], badFrames, stampReader,
//    requests: [{url, startMs, endMs, status}] (the requests to the stream's host)}
// (samples/cues/errors/fatal as in play.mjs). Logs go to stderr.
//
// Usage: node player.mjs '{"url": "...", "player": "hlsjs"|"ivs", "lowLatency": true, "durationMs": 30000}'
// Other options: "chromium" (default /usr/bin/chromium), "userDataDir" (default: a fresh temporary directory),
// "hlsConfig" (hls.js settings merged over the page's own, as play.mjs's hlsConfig: experiments and diagnosis only).
// LATENCY_CONSOLE=all in the environment logs every console message of the page (with '{"debug":true}' as hlsConfig,
// hls.js's own log), each with its wall-clock time in ms; otherwise only errors and warnings are logged.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire, isBuiltin } from 'node:module';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const harness = path.resolve(here, '..', '..', 'test', 'player');
// Every npm package comes from the real-player harness's node_modules (npm ci in test/player).
const require = createRequire(path.join(harness, 'package.json'));
const { chromium } = require('playwright-core');

const allConsole = process.env.LATENCY_CONSOLE === 'all';

function log(...args) {
  process.stderr.write('[latency/player.mjs] ' + args.join(' ') + '\n');
}

// ---- the IVS player's script: bundleCommonJS and builtinShims are copied from test/player/play.mjs (that script
// runs its main() when imported, so they cannot be imported from it). ----
const builtinShims = {
  events: `
function EventEmitter() { this._events = Object.create(null); }
EventEmitter.prototype.on = EventEmitter.prototype.addListener = function (name, fn) {
  (this._events[name] = this._events[name] || []).push(fn); return this;
};
EventEmitter.prototype.once = function (name, fn) {
  var self = this;
  function once() { self.removeListener(name, once); return fn.apply(this, arguments); }
  once.listener = fn; return this.on(name, once);
};
EventEmitter.prototype.off = EventEmitter.prototype.removeListener = function (name, fn) {
  var l = this._events[name]; if (!l) return this;
  for (var i = l.length - 1; i >= 0; i--) { if (l[i] === fn || l[i].listener === fn) { l.splice(i, 1); break; } }
  if (!l.length) delete this._events[name]; return this;
};
EventEmitter.prototype.removeAllListeners = function (name) {
  if (name === undefined) this._events = Object.create(null); else delete this._events[name]; return this;
};
EventEmitter.prototype.emit = function (name) {
  var l = this._events[name]; if (!l || !l.length) return false;
  var args = Array.prototype.slice.call(arguments, 1); l = l.slice();
  for (var i = 0; i < l.length; i++) l[i].apply(this, args); return true;
};
EventEmitter.prototype.listeners = function (name) { return (this._events[name] || []).slice(); };
EventEmitter.prototype.listenerCount = function (name) { return (this._events[name] || []).length; };
EventEmitter.prototype.setMaxListeners = function () { return this; };
EventEmitter.EventEmitter = EventEmitter;
module.exports = EventEmitter;
`,
  util: 'module.exports = {};',
};

function bundleCommonJS(entry, globalName) {
  const ids = new Map(); // file or "builtin:name" -> id
  const defs = [];
  const requireRe = /\brequire\(\s*(["'])([^"']+)\1\s*\)/g;
  function add(key, source, dir) {
    if (ids.has(key)) return ids.get(key);
    const id = defs.length;
    ids.set(key, id);
    const def = { source, deps: {} };
    defs.push(def);
    if (dir === null) return id;
    const req = createRequire(path.join(dir, 'index.js'));
    for (const m of source.matchAll(requireRe)) {
      const name = m[2];
      if (name in def.deps) continue;
      if (isBuiltin(name)) {
        const shim = builtinShims[name.replace(/^node:/, '')];
        if (shim !== undefined) def.deps[name] = add('builtin:' + name, shim, null);
        continue;
      }
      let file;
      try {
        file = req.resolve(name);
      } catch {
        continue; // only reachable in environments other than a browser (e.g. lodash's freeModule.require)
      }
      if (!file.endsWith('.js') && !file.endsWith('.cjs')) continue;
      def.deps[name] = add(file, fs.readFileSync(file, 'utf8'), path.dirname(file));
    }
    return id;
  }
  const entryFile = require.resolve(entry);
  add(entryFile, fs.readFileSync(entryFile, 'utf8'), path.dirname(entryFile));
  const parts = ['(function () {', 'var defs = [];'];
  defs.forEach((d, id) => {
    parts.push(`defs[${id}] = [function (module, exports, require) {\n${d.source}\n}, ${JSON.stringify(d.deps)}];`);
  });
  parts.push(`var cache = [];
function load(id) {
  if (cache[id]) return cache[id].exports;
  var m = cache[id] = { exports: {} }, d = defs[id];
  d[0].call(m.exports, m, m.exports, function (name) {
    if (!(name in d[1])) throw new Error("Cannot find module '" + name + "'");
    return load(d[1][name]);
  });
  return m.exports;
}
window[${JSON.stringify(globalName)}] = load(0);
})();`);
  return { code: parts.join('\n'), modules: defs.length };
}

// ---- the page's HTTP server ----

function startPageServer() {
  const ivsDir = path.dirname(require.resolve('amazon-ivs-player'));
  const hlsFile = path.join(path.dirname(require.resolve('hls.js/package.json')), 'dist', 'hls.min.js');
  let ivsBundle = null;
  const files = {
    '/': [path.join(here, 'page', 'index.html'), 'text/html; charset=utf-8'],
    '/page.js': [path.join(harness, 'page', 'page.js'), 'text/javascript; charset=utf-8'],
    '/stamp.js': [path.join(here, 'page', 'stamp.js'), 'text/javascript; charset=utf-8'],
    '/hls.js': [hlsFile, 'text/javascript; charset=utf-8'],
    '/ivs/amazon-ivs-wasmworker.min.js': [path.join(ivsDir, 'assets', 'amazon-ivs-wasmworker.min.js'), 'text/javascript; charset=utf-8'],
    '/ivs/amazon-ivs-wasmworker.min.wasm': [path.join(ivsDir, 'assets', 'amazon-ivs-wasmworker.min.wasm'), 'application/wasm'],
  };
  const handler = (req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    let body;
    let type;
    try {
      if (p === '/ivs/amazon-ivs-player.js') {
        if (!ivsBundle) ivsBundle = bundleCommonJS('amazon-ivs-player', 'IVSPlayer').code;
        body = ivsBundle;
        type = 'text/javascript; charset=utf-8';
      } else if (files[p]) {
        body = fs.readFileSync(files[p][0]);
        type = files[p][1];
      } else if (p === '/favicon.ico') {
        res.writeHead(204).end();
        return;
      }
    } catch (e) {
      log('serving', p, e.stack || e);
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e));
      return;
    }
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
  };
  return new Promise((resolve, reject) => {
    const srv = http.createServer(handler);
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve({
      origin: `http://127.0.0.1:${srv.address().port}`,
      close: () => {
        srv.closeAllConnections();
        srv.close();
      },
    }));
  });
}

// ---- main ----

async function main() {
  const opts = JSON.parse(process.argv[2] || '{}');
  const durationMs = opts.durationMs > 0 ? opts.durationMs : 30000;
  const playerKind = opts.player === 'ivs' ? 'ivs' : 'hlsjs';
  const result = { samples: [], cues: [], errors: [], fatal: false, events: [], frames: [], badFrames: 0, stampReader: '' };

  const guard = setTimeout(() => {
    log('timed out');
    process.exit(3);
  }, durationMs + 90000);
  guard.unref();

  const server = await startPageServer();
  let userDataDir = opts.userDataDir;
  let madeDir = false;
  if (!userDataDir) {
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'openivs-latency-chromium-'));
    madeDir = true;
  }
  let context;
  let stopping = false;
  const shutdown = async (code) => {
    if (stopping) return;
    stopping = true;
    try {
      await context?.close();
    } catch (e) {
      log('closing the browser:', e.message);
    }
    server.close();
    if (madeDir) fs.rmSync(userDataDir, { recursive: true, force: true });
    if (code !== undefined) process.exit(code);
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(sig, () => shutdown(130));

  // The same browser flags as play.mjs.
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: opts.chromium || '/usr/bin/chromium',
    headless: true,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-proxy-server',
      '--autoplay-policy=no-user-gesture-required'],
  });
  // The requests to the stream's host, with their times (for diagnosis; in the raw result).
  let streamHost = '';
  try {
    streamHost = new URL(opts.url).host;
  } catch {
    // the player reports it
  }
  result.requests = [];
  const started = new Map();
  context.on('request', (req) => {
    try {
      if (new URL(req.url()).host !== streamHost) return;
    } catch {
      return;
    }
    const e = { url: req.url().replace(/^https?:\/\/[^/]+/, ''), startMs: Date.now(), endMs: 0, status: 0 };
    started.set(req, e);
    if (result.requests.length < 5000) result.requests.push(e);
  });
  const finish = (req, status, at) => {
    const e = started.get(req);
    if (!e) return;
    e.endMs = at;
    e.status = status;
    started.delete(req);
  };
  context.on('requestfinished', (req) => {
    const at = Date.now();
    req.response().then((r) => finish(req, r ? r.status() : 0, at), () => finish(req, 0, at));
  });
  context.on('requestfailed', (req) => finish(req, -1, Date.now()));

  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (m) => {
    if (allConsole || m.type() === 'error' || m.type() === 'warning') log(`${Date.now()} console.${m.type()}:`, m.text());
  });
  page.on('pageerror', (e) => log('page error:', e.message));
  try {
    await page.goto(server.origin + '/', { waitUntil: 'load', timeout: 30000 });
    result.stampReader = await page.evaluate(() => window.startStampReader());
    await page.evaluate((o) => window.startPlayer(o), {
      url: opts.url,
      player: playerKind,
      lowLatency: !!opts.lowLatency,
      hlsConfig: opts.hlsConfig || {},
    });
    log(`${playerKind} started (lowLatency=${!!opts.lowLatency}); watching ${durationMs} ms`);
    await new Promise((r) => setTimeout(r, durationMs));
    const st = await page.evaluate(() => window.stampReport());
    const rep = await page.evaluate(() => window.playerReport(true));
    Object.assign(result, { samples: rep.samples, cues: rep.cues, errors: rep.errors, fatal: rep.fatal, events: rep.events });
    result.frames = st.frames;
    result.badFrames = st.bad;
  } catch (e) {
    log('page:', e.stack || e);
    result.errors.push('fatal: harness: ' + (e.message || String(e)));
    result.fatal = true;
  }
  process.stdout.write(JSON.stringify(result) + '\n');
  await shutdown();
  process.exit(0);
}

main().catch((e) => {
  log('fatal:', e.stack || e);
  process.exit(1);
});
