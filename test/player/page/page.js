// The page side of the OpenIVS real-player harness (see ../play.mjs): it plays one stream with hls.js or the
// Amazon IVS web player, and records what a viewer would see: the playhead every 250 ms, the timed-metadata cues
// and every player error. play.mjs drives it through window.startPlayer and window.playerReport.
'use strict';

(function () {
  const report = {
    samples: [], // {wallMs, currentTime, latency, paused, bandwidthEstimate}
    cues: [], // {wallMs, text, raw (base64), pts}
    errors: [], // "fatal: ..." for fatal errors
    fatal: false,
    levels: [], // hls.js: {width, height, bitrate} at MANIFEST_PARSED
    switches: [], // hls.js: {wallMs, level, height, bitrate} at every LEVEL_SWITCHED
    events: [], // a short log of player events, for debugging (stderr of play.mjs)
  };
  let sampler = null;
  let summary = null; // a one-line description of the player's state at the end, for the log

  function bufferedAhead(video) {
    const b = video.buffered;
    for (let i = 0; i < b.length; i++) {
      if (b.start(i) <= video.currentTime + 0.1 && video.currentTime < b.end(i)) return (b.end(i) - video.currentTime).toFixed(2);
    }
    return '0';
  }

  function logEvent(s) {
    if (report.events.length < 500) report.events.push(Math.round(performance.now()) + 'ms ' + s);
  }

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const el = document.createElement('script');
      el.src = src;
      el.onload = () => resolve();
      el.onerror = () => reject(new Error('could not load ' + src));
      document.head.appendChild(el);
    });
  }

  function base64(bytes) {
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(s);
  }

  // ---- ID3v2 (2.3 and 2.4) parsing: enough to read text frames (TXXX, T***) and PRIV owners. ----

  function syncsafe(b, i) {
    return ((b[i] & 0x7f) << 21) | ((b[i + 1] & 0x7f) << 14) | ((b[i + 2] & 0x7f) << 7) | (b[i + 3] & 0x7f);
  }

  function u32(b, i) {
    return ((b[i] << 24) >>> 0) + (b[i + 1] << 16) + (b[i + 2] << 8) + b[i + 3];
  }

  // decodeText decodes an ID3 string in the given text encoding (0 ISO-8859-1, 1 UTF-16 with BOM, 2 UTF-16BE,
  // 3 UTF-8), without its terminating NULs.
  function decodeText(enc, bytes) {
    let label = 'utf-8';
    if (enc === 0) label = 'iso-8859-1';
    else if (enc === 1) {
      label = 'utf-16le';
      if (bytes.length >= 2 && bytes[0] === 0xfe && bytes[1] === 0xff) label = 'utf-16be';
      if (bytes.length >= 2 && (bytes[0] === 0xfe || bytes[0] === 0xff)) bytes = bytes.subarray(2);
    } else if (enc === 2) label = 'utf-16be';
    const s = new TextDecoder(label).decode(bytes);
    return s.replace(/\u0000+$/, '');
  }

  // terminator returns the index of the NUL that ends a string starting at i in the given encoding (one NUL byte,
  // or two aligned ones for UTF-16), or b.length.
  function terminator(enc, b, i) {
    if (enc === 1 || enc === 2) {
      for (let j = i; j + 1 < b.length; j += 2) if (b[j] === 0 && b[j + 1] === 0) return j;
      return b.length;
    }
    for (let j = i; j < b.length; j++) if (b[j] === 0) return j;
    return b.length;
  }

  // parseID3 returns the frames of every ID3v2 tag in bytes: [{id, description, value, owner}], and text: the value
  // of the first TXXX frame ("" when there is none).
  function parseID3(bytes) {
    const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    const frames = [];
    let pos = 0;
    while (pos + 10 <= b.length) {
      if (!(b[pos] === 0x49 && b[pos + 1] === 0x44 && b[pos + 2] === 0x33)) break; // "ID3"
      const major = b[pos + 3];
      const flags = b[pos + 5];
      const tagSize = syncsafe(b, pos + 6);
      const end = Math.min(b.length, pos + 10 + tagSize);
      let i = pos + 10;
      if (flags & 0x40) { // extended header
        i += major >= 4 ? syncsafe(b, i) : u32(b, i) + 4;
      }
      while (i + 10 <= end) {
        const id = String.fromCharCode(b[i], b[i + 1], b[i + 2], b[i + 3]);
        if (!/^[A-Z0-9]{4}$/.test(id)) break; // padding
        const size = major >= 4 ? syncsafe(b, i + 4) : u32(b, i + 4);
        const data = b.subarray(i + 10, Math.min(end, i + 10 + size));
        i += 10 + size;
        const frame = { id };
        if (id === 'TXXX' && data.length >= 1) {
          const enc = data[0];
          const t = terminator(enc, data, 1);
          frame.description = decodeText(enc, data.subarray(1, t));
          const v = Math.min(data.length, t + (enc === 1 || enc === 2 ? 2 : 1));
          frame.value = decodeText(enc, data.subarray(v));
        } else if (id[0] === 'T' && data.length >= 1) {
          frame.value = decodeText(data[0], data.subarray(1));
        } else if (id === 'PRIV') {
          const t = terminator(0, data, 0);
          frame.owner = decodeText(0, data.subarray(0, t));
          frame.value = base64(data.subarray(Math.min(data.length, t + 1)));
        }
        frames.push(frame);
      }
      pos = pos + 10 + tagSize + (flags & 0x10 ? 10 : 0); // a 2.4 footer follows when flagged
    }
    const txxx = frames.find((f) => f.id === 'TXXX');
    return { text: txxx ? txxx.value : '', frames };
  }

  // ---- players ----

  function finite(x) {
    return typeof x === 'number' && isFinite(x) ? x : -1;
  }

  function startSampler(sample) {
    const take = () => {
      try {
        report.samples.push(sample());
      } catch (e) {
        logEvent('sample: ' + e);
      }
    };
    take();
    sampler = setInterval(take, 250);
  }

  async function startHlsjs(video, opts) {
    await loadScript('/hls.js');
    const Hls = window.Hls;
    if (!Hls.isSupported()) throw new Error('hls.js: MediaSource is not supported in this browser');
    const hls = new Hls(Object.assign({
      lowLatencyMode: !!opts.lowLatency,
      enableID3MetadataCues: true,
      enableEmsgMetadataCues: true,
      debug: false,
    }, opts.hlsConfig || {}));
    window.hls = hls;
    hls.on(Hls.Events.FRAG_PARSING_METADATA, (_, data) => {
      const now = Date.now();
      for (const s of data.samples || []) {
        const raw = s.data instanceof Uint8Array ? s.data : new Uint8Array(s.data || []);
        let text = '';
        try {
          text = parseID3(raw).text;
        } catch (e) {
          logEvent('id3 parse: ' + e);
        }
        report.cues.push({ wallMs: now, text, raw: base64(raw), pts: finite(s.pts) });
      }
    });
    hls.on(Hls.Events.ERROR, (_, data) => {
      let msg = data.type + ': ' + data.details;
      if (data.response && data.response.code !== undefined) msg += ' (HTTP ' + data.response.code + ')';
      if (data.frag && data.frag.url) msg += ' ' + data.frag.url;
      else if (data.url) msg += ' ' + data.url;
      if (data.error && data.error.message) msg += ': ' + data.error.message;
      else if (data.reason) msg += ': ' + data.reason;
      if (data.fatal) {
        report.fatal = true;
        msg = 'fatal: ' + msg;
      }
      report.errors.push(msg);
      logEvent(msg);
    });
    hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
      logEvent('manifest parsed: ' + data.levels.length + ' level(s)');
      report.levels = data.levels.map((l) => ({ width: l.width || 0, height: l.height || 0, bitrate: l.bitrate || 0 }));
      video.play().catch((e) => logEvent('video.play: ' + e));
    });
    hls.on(Hls.Events.LEVEL_SWITCHING, (_, data) => {
      logEvent('level switching: ' + data.level + ' (' + (data.height || '?') + 'p) bandwidthEstimate=' + Math.round(hls.bandwidthEstimate));
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_, data) => {
      const l = hls.levels[data.level] || {};
      report.switches.push({ wallMs: Date.now(), level: data.level, height: l.height || 0, bitrate: l.bitrate || 0 });
      logEvent('level switched: ' + data.level + ' (' + (l.height || '?') + 'p) bandwidthEstimate=' + Math.round(hls.bandwidthEstimate));
    });
    hls.on(Hls.Events.LEVEL_LOADED, (_, data) => {
      if (report.events.length < 20) logEvent('level loaded: live=' + data.details.live + ' frags=' + data.details.fragments.length);
    });
    startSampler(() => ({
      wallMs: Date.now(),
      currentTime: video.currentTime,
      latency: hls.latestLevelDetails ? finite(hls.latency) : -1,
      paused: video.paused,
      bandwidthEstimate: finite(hls.bandwidthEstimate),
    }));
    summary = () => {
      const d = hls.latestLevelDetails;
      return 'hls.js ' + Hls.version + ' lowLatencyMode=' + hls.config.lowLatencyMode +
        (d ? ' live=' + d.live + ' targetduration=' + d.targetduration + ' partTarget=' + d.partTarget +
          ' canBlockReload=' + d.canBlockReload + ' fragments=' + d.fragments.length : ' no level details') +
        ' latency=' + hls.latency + ' targetLatency=' + hls.targetLatency + ' buffered=' + bufferedAhead(video);
    };
    hls.attachMedia(video);
    hls.loadSource(opts.url);
  }

  async function startIVS(video, opts) {
    await loadScript('/ivs/amazon-ivs-player.js');
    const IVS = window.IVSPlayer;
    if (!IVS.isPlayerSupported) throw new Error('amazon-ivs-player: not supported in this browser');
    const origin = location.origin;
    const player = IVS.create({
      wasmWorker: origin + '/ivs/amazon-ivs-wasmworker.min.js',
      wasmBinary: origin + '/ivs/amazon-ivs-wasmworker.min.wasm',
    });
    window.ivsPlayer = player;
    logEvent('amazon-ivs-player ' + IVS.getVersion());
    player.attachHTMLVideoElement(video);
    player.setMuted(true);
    player.setAutoplay(true);
    for (const state of Object.values(IVS.PlayerState)) {
      player.addEventListener(state, () => logEvent('state ' + state));
    }
    player.addEventListener(IVS.PlayerEventType.TEXT_METADATA_CUE, (cue) => {
      report.cues.push({ wallMs: Date.now(), text: cue.text, raw: null, pts: finite(cue.startTime) });
      logEvent('text metadata cue: ' + JSON.stringify(cue));
    });
    player.addEventListener(IVS.MetadataEventType.ID3, (frames) => logEvent('ID3: ' + JSON.stringify(frames)));
    player.addEventListener(IVS.PlayerEventType.ERROR, (err) => {
      // The IVS player's ERROR event is fatal: the player stops and goes back to IDLE.
      report.fatal = true;
      const msg = 'fatal: ' + err.source + ': ' + err.type + ' ' + err.code + ': ' + err.message;
      report.errors.push(msg);
      logEvent(msg);
    });
    for (const name of ['REBUFFERING', 'PLAYBACK_BLOCKED', 'AUDIO_BLOCKED', 'NETWORK_UNAVAILABLE', 'QUALITY_CHANGED']) {
      const ev = IVS.PlayerEventType[name];
      if (ev) player.addEventListener(ev, (p) => logEvent(name + (p ? ' ' + JSON.stringify(p) : '')));
    }
    startSampler(() => ({
      wallMs: Date.now(),
      currentTime: player.getPosition(),
      latency: player.getLiveLatency() > 0 ? player.getLiveLatency() : -1, // 0 when it does not know
      paused: player.isPaused(),
      bandwidthEstimate: -1, // not exposed by the IVS player
    }));
    summary = () => 'state=' + player.getState() + ' isLiveLowLatency=' + player.isLiveLowLatency() +
      ' liveLatency=' + player.getLiveLatency() + ' bufferDuration=' + player.getBufferDuration() +
      ' quality=' + JSON.stringify((player.getQuality() || {}).name);
    player.load(opts.url);
    player.play();
  }

  window.parseID3 = parseID3;

  // startPlayer starts playing opts.url with opts.player ("hlsjs" or "ivs"); it returns once load() was called.
  window.startPlayer = async function (opts) {
    const video = document.getElementById('video');
    video.muted = true;
    try {
      if (opts.player === 'ivs') await startIVS(video, opts);
      else await startHlsjs(video, opts);
    } catch (e) {
      report.fatal = true;
      report.errors.push('fatal: page: ' + (e && e.message ? e.message : String(e)));
    }
  };

  // playerReport stops sampling and returns what was recorded.
  window.playerReport = function (stop) {
    if (stop && sampler) {
      clearInterval(sampler);
      sampler = null;
      if (summary) {
        try {
          logEvent('at the end: ' + summary());
        } catch (e) {
          logEvent('at the end: ' + e);
        }
      }
    }
    return report;
  };
})();
