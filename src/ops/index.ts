// Operations: HTTP health and metrics, $SYS status topics, systemd notification.
// Built last so that READY=1 is sent once everything else is up.
import type { Component } from '../component.js';
import type { DaemonContext } from '../daemon.js';

export function opsComponents(ctx: DaemonContext): Component[] {
  void ctx;
  return [];
}
