// The dashboard's entry. Importing tollgate compiles its wasm (a top-level await
// in the package's browser entry); then the quota clock, the live view, the
// playground and the usage panel.
import * as tollgate from './tollgate.js';
import { onClockReset, sharedClock } from './clock.js';
import { formatClock } from './format.js';
import { startLive } from './live.js';
import { startPlayground } from './playground.js';
import { renderUsage } from './usage.js';

const $ = (id) => document.getElementById(id);

try {
  const clock = await sharedClock();
  onClockReset(() => location.reload());
  $('speed').textContent = `×${clock.speed}`;
  const showTime = () => {
    $('now').textContent = formatClock(clock.now());
  };
  showTime();
  setInterval(showTime, 250);

  let usageShown = 0;
  startLive({
    root: $('apis'),
    workers: $('workers'),
    span: $('span'),
    status: $('live-status'),
    onState: (d) => {
      if (Date.now() - usageShown < 1_000) return;
      usageShown = Date.now();
      renderUsage($('usage'), d.usage);
    },
  });
  startPlayground({ clock, tollgate });
  document.documentElement.dataset.ready = 'true';
} catch (error) {
  const problem = $('problem');
  problem.textContent = `The dashboard could not start: ${error?.message ?? error}`;
  problem.hidden = false;
  throw error;
}
