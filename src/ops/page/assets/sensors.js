// @ts-check
// The sensors table: one row per connected client, a filter, the token expiry
// counting down, and the disconnect / revoke actions (each confirmed first).
import { $, clockTime, duration, el } from './render.js';

/** @type {any[]} */
let sensors = [];
/** @type {(action: string, sensor: any) => void} */
let onAction = () => undefined;

/** @param {(action: string, sensor: any) => void} handler */
export function setActionHandler(handler) {
  onAction = handler;
}

/** @param {any} s @param {string} q */
function matches(s, q) {
  if (!q) return true;
  return [s.clientId, s.username, s.subject, s.address].some((v) => typeof v === 'string' && v.toLowerCase().includes(q));
}

/** @param {string} text @param {string} cls @param {string} action @param {any} s @param {boolean} [disabled] */
function button(text, cls, action, s, disabled = false) {
  const b = /** @type {HTMLButtonElement} */ (el('button', text, cls));
  b.type = 'button';
  b.disabled = disabled;
  b.addEventListener('click', () => onAction(action, s));
  return b;
}

function render() {
  const q = /** @type {HTMLInputElement} */ ($('sensor-filter')).value.trim().toLowerCase();
  const shown = sensors.filter((s) => matches(s, q));
  $('sensor-count').textContent = `(${shown.length === sensors.length ? sensors.length : `${shown.length} of ${sensors.length}`})`;
  $('sensor-empty').hidden = sensors.length > 0;
  const rows = shown.map((s) => {
    const tr = el('tr');
    tr.setAttribute('data-client-id', s.clientId);
    const who = [s.username, s.subject && s.subject !== s.username ? `sub ${s.subject}` : null].filter(Boolean).join(' / ') || '—';
    const expiry = el('td', '', 'expiry');
    if (s.expiresAtMs !== null) expiry.setAttribute('data-expires', String(s.expiresAtMs));
    const actions = el('td');
    actions.append(
      button('Disconnect', 'disconnect', 'disconnect', s),
      ' ',
      button('Revoke token', 'revoke-jti', 'revoke-jti', s, !s.jti),
      ' ',
      button('Revoke subject', 'revoke-sub', 'revoke-sub', s, !s.subject),
    );
    tr.append(el('td', s.clientId, 'id'), el('td', who, 'id'), el('td', s.address ?? '—'), el('td', clockTime(s.connectedAt)), expiry,
      el('td', String(s.subscriptions)), el('td', String(s.messagesIn)), el('td', String(s.messagesOut)), actions);
    return tr;
  });
  $('sensor-rows').replaceChildren(...rows);
  tick();
}

/** Counts every expiry cell down (once a second, and after each render). */
export function tick() {
  for (const td of document.querySelectorAll('#sensor-rows td.expiry')) {
    const at = Number(td.getAttribute('data-expires'));
    td.textContent = td.hasAttribute('data-expires') ? (at > Date.now() ? `in ${duration((at - Date.now()) / 1000)}` : 'expired') : 'never';
  }
}

/** @param {any[]} list */
export function renderSensors(list) {
  sensors = list;
  render();
}

export function initSensors() {
  $('sensor-filter').addEventListener('input', render);
  setInterval(tick, 1000);
}
