// Disconnect at token expiry (exp + clockToleranceSec) with an injected clock:
// no sleeping, the FakeTimeSource is moved by hand. Expiry runs inside advance(); a
// ping round trip then proves the broker is past it before a test looks at a client.
import assert from 'node:assert/strict';
import { startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { FakeTimeSource } from '../helpers/fakeTimeSource.js';
import { closed, end, pingRoundTrip } from '../helpers/mqtt.js';
import { hsToken } from '../helpers/tokens.js';
import { acceptedClient, expectRefused, waitForLog } from './support/expect.js';

const SECRET = 'expiry-test-secret-0123456789abcdef';
const T0 = (Math.floor(Date.now() / 1000) + 7200) * 1000;

describe('disconnect at token expiry (FakeTimeSource)', () => {
  let time: FakeTimeSource;
  let d: TestDaemon;
  afterEach(() => d?.stop());

  const start = async (jwt: Record<string, unknown> = {}): Promise<void> => {
    time = new FakeTimeSource(T0);
    d = await startDaemon({ auth: { jwt: { secret: SECRET, ...jwt } } }, { timeSource: time });
  };
  const token = (expSec: number): Promise<string> => hsToken(SECRET, { sub: 'exp-test', exp: T0 / 1000 + expSec });

  it('closes the connection at exp + clockToleranceSec, not before', async () => {
    await start({ clockToleranceSec: 30 });
    const c = await acceptedClient(d, await token(60), { clientId: 'expiring' });
    const forever = await acceptedClient(d, await hsToken(SECRET, { sub: 'no-exp' }), { clientId: 'no-exp' });
    time.advance(89_000);
    await pingRoundTrip(c);
    assert.ok(c.connected, 'still inside exp + tolerance');
    time.advance(1_000);
    await closed(c);
    const line = await waitForLog(d, (l) => l.msg === 'disconnecting client' && l.clientId === 'expiring');
    assert.equal(line.reason, 'JWT_EXPIRED');
    assert.ok(forever.connected, 'a token without exp is never disconnected');
    time.advance(3_600_000);
    await pingRoundTrip(forever);
    assert.ok(forever.connected);
    await end(forever);
  });

  it('closes at exp exactly when clockToleranceSec = 0', async () => {
    await start({ clockToleranceSec: 0 });
    const c = await acceptedClient(d, await token(10));
    time.advance(9_999);
    await pingRoundTrip(c);
    assert.ok(c.connected);
    time.advance(1);
    await closed(c);
  });

  it('closes several sessions each at its own expiry, also after the earliest one left early', async () => {
    // One shared timer serves every session: it must re-arm for the next expiry.
    await start({ clockToleranceSec: 0 });
    const gone = await acceptedClient(d, await token(10), { clientId: 'leaves-early' });
    const late = await acceptedClient(d, await token(40), { clientId: 'late' });
    const mid = await acceptedClient(d, await token(20), { clientId: 'mid' });
    await end(gone);
    time.advance(19_999);
    await Promise.all([pingRoundTrip(mid), pingRoundTrip(late)]);
    assert.ok(mid.connected && late.connected, 'nothing expired yet');
    time.advance(1);
    await closed(mid);
    assert.ok(late.connected, 'a later expiry is not closed early');
    time.advance(19_999);
    await pingRoundTrip(late);
    assert.ok(late.connected);
    time.advance(1);
    await closed(late);
  });

  it('catches a forward jump of the wall clock (NTP step) within the sweep interval', async () => {
    await start({ clockToleranceSec: 0 });
    const c = await acceptedClient(d, await token(3600));
    time.setSystemTime(T0 + 7_200_000); // wall clock stepped 2 h ahead, monotonic unchanged
    time.advance(15_000);
    await closed(c);
  });

  it('disconnectOnExpiry = false keeps the connection; a new connection with the token is refused', async () => {
    await start({ clockToleranceSec: 0, disconnectOnExpiry: false });
    const t = await token(10);
    const c = await acceptedClient(d, t);
    time.advance(3_600_000);
    await pingRoundTrip(c);
    assert.ok(c.connected, 'left connected');
    await expectRefused(d, t, 'JWT_EXPIRED');
    await end(c);
  });
});
