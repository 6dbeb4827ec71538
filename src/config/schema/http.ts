// The HTTP endpoint: health, metrics and the status page.
import { bool, num, obj, oneOf, port, str } from '../spec.js';

export const httpSpec = obj({
  enabled: bool(true, 'health and metrics endpoint, and the status page'),
  host: str({
    nonEmpty: true,
    default: '127.0.0.1',
    description:
      'address to bind; any address that is not loopback makes the status page and its actions require an admin login ' +
      '([status-page.md](status-page.md#security))',
  }),
  port: port(9100, 'port (`GET /healthz`, `GET /metrics`)'),
  statusPage: bool(
    true,
    'the status page at `GET /` (overview, charts, sensors, bridge, serial; [status-page.md](status-page.md)); its code loads on the first request for ' +
      'it. `false`: `GET /` answers 404 and no chart samples are kept',
  ),
  pageAuth: oneOf(
    ['auto', 'always'],
    'auto',
    'when the page and its actions require an admin login: `auto` = whenever `http.host` is not a loopback address; `always` = also on loopback (e.g. a ' +
      'shared machine). With a login required, the daemon refuses to start (exit 2, naming `http.host`) unless a local key can sign admin tokens ' +
      '(`auth.jwt.secret`, `auth.jwt.pubkey` or the generated secret)',
  ),
  metricsAuth: bool(
    false,
    "`GET /metrics` requires an admin token (`Authorization: Bearer <token>`, as Prometheus' `authorization` setting sends it) or a page login; `GET " +
      '/healthz` stays open (`edgegate status`, systemd)',
  ),
  sampleIntervalSec: num({
    min: 0.1,
    max: 60,
    default: 5,
    description:
      "how often the status page's charts take a sample (0.1..60); the ring in memory keeps the last hour (`3600 / sampleIntervalSec` samples, at most " +
      '3600), nothing goes to disk',
  }),
});
