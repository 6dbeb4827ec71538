// Builds the cloud bridge from bridge.* (issue: cloud bridge with durable store-and-forward),
// and its health summary on the cloud (bridge.healthIntervalSec; started after the bridge, stopped before it).
import { hostname } from 'node:os';
import type { Component } from '../component.js';
import { packageVersion } from '../config/buildInfo.js';
import { componentLogger } from '../log.js';
import { Bridge } from './bridge.js';
import type { BridgeDeps } from './deps.js';
import { HealthPublisher } from './healthPublisher.js';

export function bridgeComponents(ctx: BridgeDeps): Component[] {
  if (!ctx.config.bridge.enabled) return [];
  const clientId = ctx.config.bridge.clientId || `edgegate-${hostname()}`;
  const bridge = new Bridge(ctx, clientId);
  return [bridge, new HealthPublisher(ctx, bridge, packageVersion(), componentLogger(ctx.logger, 'bridge-health'))];
}
