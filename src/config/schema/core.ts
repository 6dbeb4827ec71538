// The keys every part of the gateway reads: where the state lives, how it reaches
// the card, logging, and the clock.
import { num, obj, oneOf, str } from '../spec.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const dataDirSpec = str({
  nonEmpty: true,
  default: './data',
  description:
    'state directory: database, generated secret (created with mode 0700). A relative path is relative to the configuration file that sets it (the ' +
    "embedded default: the package's own `data/`; from `EDGEGATE_DATA_DIR` or `NODE_CONFIG`: the package), never to the directory a command is started " +
    'in, so the daemon and every CLI command find the same one. One daemon per directory: a second one exits 2 naming `dataDir` and the process that ' +
    'holds it',
});

export const storageSpec = obj({
  sync: oneOf(
    ['normal', 'full'],
    'full',
    'how every write to the database (broker state, bridge queue, token cache, revocations, time floor, fleet state; the CLI too) reaches the card. ' +
      '`full`: each commit is fsynced before anything that depends on it is acknowledged, so nothing acknowledged is lost by a power cut; `normal`: ' +
      'survives a process crash, not a power cut (fewer fsyncs). Cost and SD writes of each: [durability.md](durability.md)',
  ),
});

export const logSpec = obj({
  level: oneOf(LOG_LEVELS, 'info', 'the most detailed level logged (from `fatal` to `trace`; `silent`: nothing); logs go to stderr'),
  format: oneOf(
    ['auto', 'json', 'pretty'],
    'auto',
    '`json`: one JSON object per line (pino), for journald and log shippers; `pretty`: readable lines (`12:34:56.789 WARN  [bridge] cannot connect to ' +
      'the cloud  url=…`), coloured unless `NO_COLOR` is set; `auto`: pretty when stderr is a terminal (`npm start`), JSON under systemd (`JOURNAL_STREAM` ' +
      'set) or when piped',
  ),
});

export const clockSpec = obj({
  persistIntervalSec: num({ min: 1, default: 60, description: 'how often the wall time seen is persisted (the time floor)' }),
  maxOffsetSec: num({
    min: 0,
    default: 120,
    description: 'offset to a trusted time source beyond which the clock is `skewed` and token checks use the corrected time',
  }),
});
