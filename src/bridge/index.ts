// Builds the cloud bridge from bridge.* (issue: cloud bridge with durable store-and-forward).
import { hostname } from 'node:os';
import type { Component } from '../component.js';
import type { DaemonContext } from '../context.js';
import { Bridge } from './bridge.js';

export function bridgeComponents(ctx: DaemonContext): Component[] {
  if (!ctx.config.bridge.enabled) return [];
  const clientId = ctx.config.bridge.clientId || `edgegate-${hostname()}`;
  return [new Bridge(ctx, clientId)];
}
