// @ts-check
// Rendering of the status page's sections. Every value from the gateway (client
// ids, topics, errors: attacker-controlled strings) goes in as textContent or an
// attribute value, never as HTML.

/** @param {string} id */
export const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * @param {string} tag
 * @param {string} [text]
 * @param {string} [className]
 */
export function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

/** @param {number} sec */
export function duration(sec) {
  if (!Number.isFinite(sec)) return '';
  const s = Math.max(0, Math.round(sec));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h ${m}m`;
  if (h > 0) return `${h}h ${m}m ${s % 60}s`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

/** @param {string | null | undefined} iso */
export function clockTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString() : d.toLocaleString();
}

/** @param {any} ov */
export function renderOverview(ov) {
  const badge = $('health');
  badge.textContent = ov.healthy ? 'healthy' : 'unhealthy';
  badge.className = `badge ${ov.healthy ? 'ok' : 'bad'}`;
  $('ov-health').textContent = ov.healthy ? 'healthy' : 'unhealthy';
  const problems = $('ov-problems');
  problems.replaceChildren(...(ov.problems.length ? ov.problems.map((/** @type {any} */ p) => el('li', p.text, p.level)) : [el('li', 'nothing to report', 'muted')]));
  $('ov-uptime').textContent = duration(ov.uptimeSec);
  $('ov-version').textContent = ov.version;
  $('version').textContent = `v${ov.version}`;
  $('ov-clock').textContent = `${ov.clock.status ?? 'unknown'}, offset ${ov.clock.offsetSec ?? 0} s`;
  $('ov-storage').textContent = !ov.storage.persistent
    ? 'IN MEMORY: database unusable, nothing persists'
    : ov.storage.writable === false
      ? `NOT WRITABLE: ${ov.storage.error ?? 'commits fail'}`
      : `persistent (SQLite, sync ${ov.storage.sync ?? 'full'})`;
  $('ov-listeners').textContent = Object.entries(ov.listeners).map(([name, a]) => `${name} ${/** @type {any} */ (a).host}:${/** @type {any} */ (a).port}`).join(', ') || 'none';
}

/** @param {any} b */
export function renderBridge(b) {
  $('bridge-disabled').hidden = b.enabled;
  $('bridge-details').hidden = !b.enabled;
  if (!b.enabled) return;
  $('br-state').textContent = `${b.state}${b.stateSince ? ` since ${clockTime(b.stateSince)}` : ''}`;
  $('br-url').textContent = `${b.url} (client id ${b.clientId})`;
  $('br-rules').replaceChildren(...b.rules.map((/** @type {any} */ r) => el('li', `${r.pattern} ${r.direction} qos ${r.qos}${r.localPrefix ? ` local ${r.localPrefix}` : ''}${r.remotePrefix ? ` remote ${r.remotePrefix}` : ''}`)));
  $('br-queue').textContent = `${b.queue.messages} messages, ${b.queue.bytes} bytes, ${b.queue.inflight} in flight${b.queue.durable ? '' : ' (not durable)'}`;
  $('br-oldest').textContent = b.oldestQueuedAgeSec === null ? '—' : duration(b.oldestQueuedAgeSec);
  const drops = Object.entries(b.dropped);
  $('br-dropped').textContent = drops.length ? drops.map(([k, v]) => `${k}: ${v}`).join(', ') : 'none';
  $('br-error').textContent = b.lastError ?? '—';
}

/** Lines per second per port, from two successive status updates. @type {Map<string, {t: number, lines: number}>} */
const lastLines = new Map();

/** @param {any} serial @param {number} nowMs */
export function renderSerial(serial, nowMs) {
  $('serial-none').hidden = serial.ports.length > 0;
  $('serial-table').hidden = serial.ports.length === 0;
  const open = new Set([...document.querySelectorAll('#serial-rows details[open]')].map((d) => d.getAttribute('data-port')));
  const rows = serial.ports.map((/** @type {any} */ p) => {
    const total = (p.lines?.published ?? 0) + (p.lines?.invalid ?? 0) + (p.lines?.oversized ?? 0);
    const prev = lastLines.get(p.name);
    lastLines.set(p.name, { t: nowMs, lines: total });
    const rate = prev && nowMs > prev.t ? ((total - prev.lines) * 1000) / (nowMs - prev.t) : 0;
    const tr = el('tr');
    tr.append(el('td', p.name, 'id'), el('td', String(p.state)), el('td', rate.toFixed(1)), el('td', String((p.lines?.invalid ?? 0) + (p.lines?.oversized ?? 0))));
    const last = el('td');
    if (p.lastLineAt) {
      const details = document.createElement('details');
      details.setAttribute('data-port', p.name);
      if (open.has(p.name)) details.open = true;
      details.append(el('summary', clockTime(p.lastLineAt)), el('pre', p.lastLine ?? ''));
      last.append(details);
    } else last.textContent = '—';
    tr.append(last);
    return tr;
  });
  $('serial-rows').replaceChildren(...rows);
}
