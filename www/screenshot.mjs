// Regenerates www/screenshot.png, the README's picture of the dashboard: the
// dashboard started in-process (as `npm start` runs it), its live view after the
// pipeline has run for a while, at 1280x800 in Debian's Chromium.
//
//   node www/screenshot.mjs [--speed 300] [--wait 15] [--out www/screenshot.png]
//   node www/screenshot.mjs --redis redis://127.0.0.1:6379 [--workers 3]   (www/screenshot-redis.png)
//
// At --speed 300 and --wait 15, the pipeline has run 75 minutes of quota time:
// the hour windows have filled and the timelines show a full hour. With --redis,
// the pipeline runs as worker processes sharing the quotas through that Redis,
// and the picture is the live view's top: the workers and each one's share.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { launch } from '../tests/browser/chromium.mjs';
import { startDashboard } from './serve.mjs';

const { values } = parseArgs({
  options: {
    speed: { type: 'string', default: '300' },
    wait: { type: 'string', default: '15' },
    out: { type: 'string' },
    redis: { type: 'string' },
    workers: { type: 'string', default: '3' },
  },
});
const out = values.out ?? fileURLToPath(new URL(values.redis ? './screenshot-redis.png' : './screenshot.png', import.meta.url));
const speed = Number(values.speed);
const waitS = Number(values.wait);
if (!(speed >= 1 && speed <= 100_000)) throw new TypeError(`--speed must be from 1 to 100000; got ${values.speed}`);
if (!(waitS >= 0 && waitS <= 600)) throw new TypeError(`--wait must be from 0 to 600 seconds; got ${values.wait}`);

const dashboard = await startDashboard({ port: 0, speed, ...(values.redis ? { redis: values.redis, workers: Number(values.workers) } : {}) });
const browser = await launch();
try {
  // Reduced motion: no bar transitions, so each bar shows exactly its number (at x300
  // a calendar minute rolls over five times a second).
  const height = values.redis ? 1000 : 800;
  const page = await browser.newPage({ viewport: { width: 1280, height }, reducedMotion: 'reduce' });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${dashboard.url}/`);
  await page.waitForSelector('html[data-ready="true"]', { timeout: 15_000 });
  await page.waitForTimeout(waitS * 1000);
  if (errors.length > 0) throw new Error(`the page failed: ${errors.join('; ')}`);
  await page.screenshot({ path: out });
  console.log(`wrote ${out} (1280x${height}, quota clock x${speed}, after ${waitS} s)`);
} finally {
  await browser.close();
  await dashboard.close();
}
