// MQTT's rule for UTF-8 strings (MQTT 3.1.1 section 1.5.3, MQTT 5.0 section 1.5.4):
// ill-formed UTF-8 and U+0000 make the packet malformed and close the connection
// [MQTT-1.5.3-1, MQTT-1.5.3-2; MQTT-1.5.4-1, MQTT-1.5.4-2]. mqtt-packet decodes such
// bytes to U+FFFD instead, so the packet guard checks the raw bytes first.

/**
 * True when buf[start, end) is well-formed UTF-8 without U+0000 (Unicode 15
 * table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF).
 */
export function isMqttUtf8(buf: Uint8Array, start: number, end: number): boolean {
  let i = start;
  // Fast path: ASCII without NUL.
  while (i < end) {
    const b = buf[i]!;
    if (b === 0 || b > 0x7f) break;
    i++;
  }
  while (i < end) {
    const b = buf[i++]!;
    if (b < 0x80) {
      if (b === 0) return false;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0)
        lo = 0xa0; // overlong
      else if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0)
        lo = 0x90; // overlong
      else if (b === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return false; // continuation byte, C0/C1 (overlong), F5..FF
    if (i + need > end) return false;
    const second = buf[i++]!;
    if (second < lo || second > hi) return false;
    for (let k = 1; k < need; k++) {
      const c = buf[i++]!;
      if (c < 0x80 || c > 0xbf) return false;
    }
  }
  return true;
}

/** A 2-byte length-prefixed field (string or binary data) at `pos`: its end, or -1 when it does not fit before `end`. */
export function fieldEnd(buf: Uint8Array, pos: number, end: number): number {
  if (pos + 2 > end) return -1;
  const e = pos + 2 + ((buf[pos]! << 8) | buf[pos + 1]!);
  return e > end ? -1 : e;
}
