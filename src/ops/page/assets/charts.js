// @ts-check
// The four charts of the last hour, drawn by uPlot (a small canvas chart
// library, served from the gateway itself). Filled from /api/samples, then one
// point per `sample` event.
/* global uPlot */

const CHARTS = {
  clients: { el: 'chart-clients', series: [['clients', 'clients', '#2563eb']] },
  messages: { el: 'chart-messages', series: [['messagesInPerSec', 'in/s', '#16a34a'], ['messagesOutPerSec', 'out/s', '#9333ea']] },
  queue: { el: 'chart-queue', series: [['queueDepth', 'queued', '#dc2626'], ['drainPerSec', 'drained/s', '#0891b2']] },
  auth: {
    el: 'chart-auth',
    series: [
      ['authAccepted', 'accepted', '#16a34a'], ['authCacheHit', 'cache hit', '#65a30d'], ['authBadSignature', 'bad signature', '#dc2626'],
      ['authExpired', 'expired', '#ea580c'], ['authRevoked', 'revoked', '#7c3aed'], ['authRateLimited', 'rate limited', '#0f172a'],
      ['authOtherRefused', 'other refused', '#94a3b8'],
    ],
  },
};

/** @type {Record<string, any>} */
const charts = {};
let capacity = 720;
/** @type {Record<string, number[]>} */
let columns = { t: [] };

/** @param {HTMLElement} host */
function width(host) {
  return Math.max(300, Math.floor(host.getBoundingClientRect().width || 420));
}

/** @param {string} name */
function dataOf(name) {
  const def = /** @type {any} */ (CHARTS)[name];
  return [columns.t.map((t) => t / 1000), ...def.series.map((/** @type {string[]} */ [key]) => columns[key] ?? [])];
}

/** @param {{capacity: number, series: Record<string, number[]>}} samples */
export function initCharts(samples) {
  capacity = samples.capacity || capacity;
  columns = { t: [], ...samples.series };
  for (const [name, def] of Object.entries(CHARTS)) {
    const host = /** @type {HTMLElement} */ (document.getElementById(def.el));
    if (charts[name]) {
      charts[name].setData(dataOf(name));
      continue;
    }
    const opts = {
      width: width(host),
      height: 200,
      scales: { x: { time: true }, y: { range: (/** @type {any} */ _u, /** @type {number} */ min, /** @type {number} */ max) => [Math.min(0, min), Math.max(1, max)] } },
      series: [{}, ...def.series.map(([, label, stroke]) => ({ label, stroke, width: 1.5, points: { show: false } }))],
      axes: [{}, { size: 50 }],
    };
    // @ts-ignore uPlot is the global of uPlot.iife.min.js
    charts[name] = new uPlot(opts, dataOf(name), host);
  }
  // @ts-ignore for a person's console and the browser tests: the data each chart draws
  window.edgegateCharts = charts;
}

/** @param {Record<string, number>} sample */
export function pushSample(sample) {
  for (const key of Object.keys(sample)) {
    const col = (columns[key] ??= []);
    col.push(sample[key]);
    if (col.length > capacity) col.splice(0, col.length - capacity);
  }
  for (const name of Object.keys(charts)) charts[name].setData(dataOf(name));
}

export function resizeCharts() {
  for (const [name, def] of Object.entries(CHARTS)) {
    const host = /** @type {HTMLElement} */ (document.getElementById(def.el));
    charts[name]?.setSize({ width: width(host), height: 200 });
  }
}
