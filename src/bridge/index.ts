// Builds the cloud bridge from bridge.* (issue: cloud bridge with durable store-and-forward).
import type { Component } from '../component.js';
import type { DaemonContext } from '../daemon.js';

export function bridgeComponents(ctx: DaemonContext): Component[] {
  void ctx;
  return [];
}
