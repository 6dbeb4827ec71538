// Builds the cloud bridge from bridge.* (issue: cloud bridge with durable store-and-forward),
// and its health summary on the cloud (bridge.healthIntervalSec; started after the bridge, stopped before it).
import { hostname } from 'node:os';
import { packageVersion } from '../buildInfo.js';
import type { Component } from '../component.js';
import type { DaemonContext } from '../context.js';
import { componentLogger } from '../log.js';
import { Bridge } from './bridge.js';
import { HealthPublisher } from './healthPublisher.js';

export function bridgeComponents(ctx: DaemonContext): Component[] {
  if (!ctx.config.bridge.enabled) return [];
  const clientId = ctx.config.bridge.clientId || `edgegate-${hostname()}`;
  const bridge = new Bridge(ctx, clientId);
  return [bridge, new HealthPublisher(ctx, bridge, packageVersion(), componentLogger(ctx.logger, 'bridge-health'))];
}
