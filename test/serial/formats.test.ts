import assert from 'node:assert/strict';
import { compactJson, formatLine, parseKeyValues } from '../../src/serial/formats.js';

const fmt = (format: 'json' | 'kv' | 'text', line: string | Buffer): string | { reason: string } => {
  const r = formatLine(format, Buffer.isBuffer(line) ? line : Buffer.from(line, 'utf8'));
  return r.ok ? r.payload.toString('utf8') : { reason: r.reason };
};

describe('serial line formats', () => {
  describe('json', () => {
    it('publishes compact JSON, keeping strings and numbers exactly', () => {
      assert.equal(
        fmt('json', ' { "t" : 21.50 , "name" : "a b\\" c" , "big": 12345678901234567890, "arr": [ 1, 2 ] } '),
        '{"t":21.50,"name":"a b\\" c","big":12345678901234567890,"arr":[1,2]}',
      );
      assert.equal(fmt('json', '{"t":1}'), '{"t":1}');
      assert.equal(fmt('json', '42'), '42');
      assert.equal(fmt('json', '"just text"'), '"just text"');
    });

    it('rejects what is not JSON', () => {
      for (const bad of ['{"t":', 'hello', "{'t':1}", '{"t":1}}', 'NaN', '{"t":1} x']) {
        assert.deepEqual(fmt('json', bad), { reason: 'SERIAL_INVALID_JSON' }, bad);
      }
    });

    it('rejects invalid UTF-8 rather than repairing it', () => {
      assert.deepEqual(fmt('json', Buffer.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])), { reason: 'SERIAL_INVALID_UTF8' });
    });

    it('compactJson leaves whitespace-free JSON untouched', () => {
      assert.equal(compactJson('{"a":[1,{"b":"c d"}]}'), '{"a":[1,{"b":"c d"}]}');
      assert.equal(compactJson('{"a":'), undefined);
    });
  });

  describe('kv', () => {
    it('turns key=value pairs into typed JSON', () => {
      assert.equal(fmt('kv', 't=21.5 h=40'), '{"t":21.5,"h":40}');
      assert.equal(fmt('kv', 'ok=true door=false n=-3 e=1e3 p=+2 s=abc'), '{"ok":true,"door":false,"n":-3,"e":1000,"p":2,"s":"abc"}');
      assert.equal(fmt('kv', '  a=1\t b=x=y  '), '{"a":1,"b":"x=y"}');
    });

    it('keeps serial numbers, hex and odd values as strings', () => {
      assert.equal(
        fmt('kv', 'id=00123 hex=0x1F inf=Infinity nan=NaN big=1e999 empty= null=null'),
        '{"id":"00123","hex":"0x1F","inf":"Infinity","nan":"NaN","big":"1e999","empty":"","null":"null"}',
      );
    });

    it('a repeated key keeps the last value; __proto__ is just a key', () => {
      assert.equal(fmt('kv', 'a=1 a=2'), '{"a":2}');
      assert.equal(fmt('kv', '__proto__=1 constructor=2'), '{"__proto__":1,"constructor":2}');
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });

    it('rejects tokens that are not key=value', () => {
      for (const bad of ['t=1 junk', '=5', 'hello', 'a=1 =2']) assert.deepEqual(fmt('kv', bad), { reason: 'SERIAL_INVALID_KV' }, bad);
      // Only spaces and tabs separate pairs: a comma is part of the value.
      assert.equal(fmt('kv', 't=1,h=2'), '{"t":"1,h=2"}');
      assert.equal(parseKeyValues('   '), undefined);
    });

    it('double-quoted values may hold spaces, tabs and "="; they stay strings', () => {
      assert.equal(fmt('kv', 'name="living room" t=21.5'), '{"name":"living room","t":21.5}');
      assert.equal(fmt('kv', 'a="x\ty = z"\tb=2'), '{"a":"x\\ty = z","b":2}');
      assert.equal(fmt('kv', 'n="42" ok="true" e=""'), '{"n":"42","ok":"true","e":""}');
      assert.deepEqual(parseKeyValues('msg="  padded  "'), Object.assign(Object.create(null), { msg: '  padded  ' }));
    });

    it('\\" inside quotes is a quote, \\\\ a backslash; other backslashes are kept', () => {
      assert.equal(fmt('kv', String.raw`say="he said \"hi\"" p="C:\\dir" raw="a\nb"`), JSON.stringify({ say: 'he said "hi"', p: 'C:\\dir', raw: 'a\\nb' }));
      assert.equal(fmt('kv', String.raw`end="trailing\\"`), JSON.stringify({ end: 'trailing\\' }));
    });

    it('an unterminated quote, or text glued to the closing quote, makes the line invalid', () => {
      for (const bad of ['name="living room', 'a="x\\"', 'a="x" b="', 'a="x"y', 'a="']) assert.deepEqual(fmt('kv', bad), { reason: 'SERIAL_INVALID_KV' }, bad);
      // A quote that does not open the value is an ordinary character (as before).
      assert.equal(fmt('kv', 'a=b"c'), '{"a":"b\\"c"}');
    });
  });

  describe('text', () => {
    it('publishes the bytes as they are', () => {
      const raw = Buffer.from([0x68, 0x69, 0xff, 0x00, 0x20]);
      const r = formatLine('text', raw);
      assert.ok(r.ok);
      assert.deepEqual(r.payload, raw);
      assert.equal(fmt('text', '  spaced  out  '), '  spaced  out  ');
    });
  });
});
