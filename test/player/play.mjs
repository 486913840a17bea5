#!/usr/bin/env node
// The OpenIVS real-player harness: plays one HLS stream in headless Chromium with hls.js or the official Amazon IVS
// web player and prints one JSON document on stdout with what happened (playhead samples, timed-metadata cues,
// player errors, and the requests the page made to the stream's host). Debug logs go to stderr. It exits non-zero
// only when the browser could not run at all; a stream that does not play is a result, not a failure.
//
// Usage: node play.mjs '<options as JSON>'
//   url          the multivariant playlist URL
//   player       "hlsjs" (default) or "ivs"
//   lowLatency   hls.js lowLatencyMode
//   durationMs   how long to watch after load() (default 8000)
//   pageOrigin   "http://127.0.0.1:<port>" or "http://localhost:<port>" to serve the page at; "" = a free port on 127.0.0.1
//   userDataDir  Chromium's profile directory (a fresh temporary one when empty; removed at the end if made here)
//   chromium     the browser's path (default /usr/bin/chromium)
//   hlsConfig    hls.js: extra Hls config (merged over the page's own), for tests that need one; {} = hls.js defaults
//   throttle     a schedule of network conditions: [{atMs, kbps, latencyMs}], applied with the DevTools protocol's
//                Network.emulateNetworkConditions to the page's requests (hls.js loads from the page; its worker
//                only transmuxes). atMs counts from the start of the watch (startPlayer's return); a step at
//                atMs <= 0 is applied before the page loads. kbps 0 = unthrottled. When each step took effect is
//                returned in "throttled" ({wallMs, kbps, latencyMs}). The IVS player's wasm worker fetches the
//                stream itself; whether the page's conditions reach it is not checked here.
//   id3Samples   hidden, for the harness's own tests: base64 ID3 tags; what the page's parser makes of them is
//                returned in "id3" (with or without a url to play)
//
// The page, hls.js and the IVS player (its script and its wasm worker) are served by a small HTTP server of this
// script on the page origin, so the stream server sees a cross-origin page and CORS is exercised.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { createRequire, isBuiltin } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function log(...args) {
  process.stderr.write('[play.mjs] ' + args.join(' ') + '\n');
}

// ---- the IVS player's script ----
// amazon-ivs-player ships a CommonJS build (dist/index.js) that requires @babel/runtime helpers, bowser, lodash,
// promise-polyfill and Node's "events"; a page cannot load it as is. bundleCommonJS packs it with everything it
// requires into one script (a minimal CommonJS loader), with small stand-ins for Node's built-in modules.

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

function startPageServer(pageOrigin) {
  const ivsDir = path.dirname(require.resolve('amazon-ivs-player'));
  const hlsFile = path.join(path.dirname(require.resolve('hls.js/package.json')), 'dist', 'hls.min.js');
  let ivsBundle = null;
  const files = {
    '/': [path.join(here, 'page', 'index.html'), 'text/html; charset=utf-8'],
    '/page.js': [path.join(here, 'page', 'page.js'), 'text/javascript; charset=utf-8'],
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
        if (!ivsBundle) {
          const b = bundleCommonJS('amazon-ivs-player', 'IVSPlayer');
          log(`amazon-ivs-player bundled: ${b.modules} modules, ${b.code.length} bytes`);
          ivsBundle = b.code;
        }
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

  let host = '127.0.0.1';
  let port = 0;
  if (pageOrigin) {
    const u = new URL(pageOrigin);
    host = u.hostname.replace(/^\[|\]$/g, '');
    port = Number(u.port || 80);
  }
  const listen = (addr, p) =>
    new Promise((resolve, reject) => {
      const srv = http.createServer(handler);
      srv.once('error', reject);
      srv.listen(p, addr, () => resolve(srv));
    });
  return (async () => {
    const servers = [];
    if (host === 'localhost') {
      // Chromium may try either loopback address for "localhost": answer on both.
      servers.push(await listen('127.0.0.1', port));
      port = servers[0].address().port;
      try {
        servers.push(await listen('::1', port));
      } catch (e) {
        log('no [::1] listener for localhost:', e.message);
      }
    } else {
      servers.push(await listen(host, port));
      port = servers[0].address().port;
    }
    const origin = pageOrigin ? pageOrigin.replace(/\/+$/, '') : `http://127.0.0.1:${port}`;
    return {
      origin,
      close: () => {
        for (const s of servers) {
          s.closeAllConnections();
          s.close();
        }
      },
    };
  })();
}

// ---- main ----

async function main() {
  let opts;
  try {
    opts = JSON.parse(process.argv[2] || '{}');
  } catch (e) {
    log('bad options:', e.message);
    process.exit(2);
  }
  const durationMs = opts.durationMs > 0 ? opts.durationMs : 8000;
  const playerKind = opts.player === 'ivs' ? 'ivs' : 'hlsjs';
  const result = {
    samples: [],
    cues: [],
    errors: [],
    fatal: false,
    pageOrigin: '',
    requests: [],
    levels: [],
    switches: [],
    throttled: [],
  };

  // Never hang: whatever happens, end well after the watch is over.
  const guard = setTimeout(() => {
    log('timed out');
    process.exit(3);
  }, durationMs + 90000);
  guard.unref();

  const server = await startPageServer(opts.pageOrigin || '');
  result.pageOrigin = server.origin;

  let userDataDir = opts.userDataDir;
  let madeDir = false;
  if (!userDataDir) {
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'openivs-chromium-'));
    madeDir = true;
  }

  // Ending: node exits at once, and playwright's exit handler SIGKILLs the browser's process group (a graceful
  // close takes seconds on a busy machine and keeps nothing we need).
  let context;
  const shutdown = (code) => {
    server.close();
    process.exit(code);
  };
  if (madeDir) process.on('exit', () => fs.rmSync(userDataDir, { recursive: true, force: true, maxRetries: 5 }));
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.on(sig, () => {
      log('got', sig);
      shutdown(130);
    });
  }

  const t0 = Date.now();
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: opts.chromium || '/usr/bin/chromium',
      headless: true,
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-proxy-server',
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
  } catch (e) {
    log('could not start Chromium:', e.stack || e);
    shutdown(1);
  }
  log(`browser up in ${Date.now() - t0} ms (node started ${Math.round(process.uptime() * 1000 - (Date.now() - t0))} ms before)`);

  // The request log: every request to the stream's host (the page's and its workers').
  let streamHost = '';
  try {
    streamHost = new URL(opts.url).host;
  } catch {
    // no stream (id3Samples) or a malformed URL: the player reports it
  }
  const pending = new Map();
  context.on('request', (req) => {
    let host = '';
    try {
      host = new URL(req.url()).host;
    } catch {
      return;
    }
    if (!streamHost || host !== streamHost) return;
    const entry = { method: req.method(), url: req.url(), status: 0 };
    pending.set(req, entry);
    result.requests.push(entry);
  });
  context.on('response', (res) => {
    const e = pending.get(res.request());
    if (e) e.status = res.status();
  });
  context.on('requestfailed', (req) => {
    const failure = req.failure()?.errorText || 'failed';
    const e = pending.get(req);
    if (e) e.failure = failure;
    else log('request failed:', req.method(), req.url(), failure);
  });

  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') log(`console.${m.type()}:`, m.text());
  });
  page.on('pageerror', (e) => log('page error:', e.message));
  page.on('worker', (w) => log('worker started:', w.url()));

  // The throttle schedule: one CDP session on the page, its conditions replaced at every step.
  const steps = (Array.isArray(opts.throttle) ? opts.throttle : []).slice().sort((a, b) => (a.atMs || 0) - (b.atMs || 0));
  let cdp = null;
  const throttle = async (step) => {
    const kbps = step.kbps > 0 ? step.kbps : 0;
    const latencyMs = step.latencyMs > 0 ? step.latencyMs : 0;
    try {
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: latencyMs,
        downloadThroughput: kbps > 0 ? (kbps * 1000) / 8 : -1, // bytes/s; -1: no limit
        uploadThroughput: kbps > 0 ? (kbps * 1000) / 8 : -1,
      });
      result.throttled.push({ wallMs: Date.now(), kbps, latencyMs });
      log(`network: ${kbps > 0 ? kbps + ' kbit/s' : 'unthrottled'}, latency ${latencyMs} ms`);
    } catch (e) {
      log('network conditions:', e.stack || e);
      result.errors.push('fatal: harness: network conditions: ' + (e.message || String(e)));
      result.fatal = true;
    }
  };
  const timers = [];
  if (steps.length > 0) {
    try {
      cdp = await page.context().newCDPSession(page);
      await cdp.send('Network.enable');
    } catch (e) {
      log('CDP session:', e.stack || e);
      shutdown(1);
    }
    for (const step of steps) if (!(step.atMs > 0)) await throttle(step);
  }

  try {
    await page.goto(server.origin + '/', { waitUntil: 'load', timeout: 30000 });
    if (opts.id3Samples) {
      result.id3 = await page.evaluate((samples) => samples.map((s) => {
        const bin = atob(s);
        const b = new Uint8Array(bin.length);
        for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
        return window.parseID3(b);
      }), opts.id3Samples);
    }
    if (opts.url) {
      const t1 = Date.now();
      await page.evaluate((o) => window.startPlayer(o), {
        url: opts.url,
        player: playerKind,
        lowLatency: !!opts.lowLatency,
        hlsConfig: opts.hlsConfig || {},
      });
      log(`page loaded and ${playerKind} started in ${t1 - t0} + ${Date.now() - t1} ms; watching ${durationMs} ms`);
      for (const step of steps) if (step.atMs > 0) timers.push(setTimeout(() => throttle(step), step.atMs));
      await new Promise((r) => setTimeout(r, durationMs));
      for (const tm of timers) clearTimeout(tm);
    }
    const rep = await page.evaluate(() => window.playerReport(true));
    result.samples = rep.samples;
    result.cues = rep.cues;
    result.errors = result.errors.concat(rep.errors);
    result.fatal = result.fatal || rep.fatal;
    result.levels = rep.levels;
    result.switches = rep.switches;
    for (const ev of rep.events) log('player:', ev);
  } catch (e) {
    log('page:', e.stack || e);
    result.errors.push('fatal: harness: ' + (e.message || String(e)));
    result.fatal = true;
  }
  log(`done in ${Date.now() - t0} ms`);
  process.stdout.write(JSON.stringify(result) + '\n', () => shutdown(0));
}

main().catch((e) => {
  log('fatal:', e.stack || e);
  process.exit(1);
});
