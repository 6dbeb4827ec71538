// Builds one component per serial.ports[] entry.
import type { Component } from '../component.js';
import type { DaemonContext } from '../daemon.js';

export function serialComponents(ctx: DaemonContext): Component[] {
  void ctx;
  return [];
}
