// Reads the capture time that the publisher drew into every frame (bench/run-playback.sh: ffmpeg's geq filter
// draws, across the top 32 rows of a 640x360 picture, 40 blocks 16 px wide, white = 1, black = 0: bits 39..8 are
// the wall-clock milliseconds at which ffmpeg filtered the frame modulo 2^32, most significant first, bits 7..0
// the sum of those four bytes modulo 256) from each frame the browser presents, and records when it was
// presented. requestVideoFrameCallback fires once per presented frame; its expectedDisplayTime (performance
// clock) plus performance.timeOrigin is the wall time the frame goes on screen.
'use strict';

(function () {
  const frames = []; // {displayMs, cbMs, stamp, mediaTime}
  let bad = 0; // frames whose checksum did not match (e.g. scaled or damaged pictures)
  let running = false;

  function decode(data, w, h) {
    // sample the middle of each block: a 6x12 px area, averaged (the video is scaled to 640x32 in the canvas)
    let v = 0;
    let ck = 0;
    for (let b = 0; b < 40; b++) {
      const x0 = b * 16 + 5;
      let sum = 0;
      let n = 0;
      for (let y = 10; y < 22; y++) {
        for (let x = x0; x < x0 + 6; x++) {
          sum += data[(y * w + x) * 4 + 1]; // green ≈ luma for grey pixels
          n++;
        }
      }
      const bit = sum / n > 128 ? 1 : 0;
      if (b < 32) v = v * 2 + bit;
      else ck = ck * 2 + bit;
    }
    const sumBytes = (Math.floor(v / 16777216) + (Math.floor(v / 65536) % 256) + (Math.floor(v / 256) % 256) + (v % 256)) % 256;
    return sumBytes === ck ? v : -1;
  }

  window.startStampReader = function () {
    const video = document.getElementById('video');
    if (!('requestVideoFrameCallback' in HTMLVideoElement.prototype)) return 'no requestVideoFrameCallback';
    const canvas = document.createElement('canvas');
    canvas.width = 640;
    canvas.height = 32;
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    running = true;
    const onFrame = (now, meta) => {
      if (!running) return;
      const cbMs = Date.now();
      const vw = video.videoWidth;
      const vh = video.videoHeight;
      if (vw > 0 && vh > 0) {
        // the stamp strip is the top 32/360 of the picture, whatever its size
        ctx.drawImage(video, 0, 0, vw, (vh * 32) / 360, 0, 0, 640, 32);
        const stamp = decode(ctx.getImageData(0, 0, 640, 32).data, 640, 32);
        if (stamp < 0) bad++;
        else {
          frames.push({
            displayMs: performance.timeOrigin + meta.expectedDisplayTime,
            cbMs,
            stamp,
            mediaTime: meta.mediaTime,
          });
        }
      }
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
    return '';
  };

  window.stampReport = function () {
    running = false;
    return { frames, bad };
  };
})();
