// Wills of connected clients (MQTT 3.1.1 section 3.1.2.5, MQTT 5.0 section
// 3.1.3.2). A will is kept from the CONNECT until it is published or the client
// disconnects cleanly; one still kept when the gateway starts belongs to a client
// whose connection ended with the gateway (a crash or a power cut: nobody
// published it), and is published then (wills.ts in the broker). Only a will the
// token's ACL allowed at CONNECT is written (see WILL_ALLOWED).
import type { Sqlite } from '../../storage/database.js';
import type { GroupCommit } from '../../storage/groupCommit.js';
import { decodePacket, encodePacket } from './codec.js';
import type { QueuedPacket } from './queueStore.js';

/** Set on an aedes client by the authenticate hook: whether its will may be published (the token's ACL). */
export const WILL_ALLOWED = Symbol('edgegate.willAllowed');

export class WillStore {
  private readonly stmts;

  constructor(
    db: Sqlite,
    private readonly commit: GroupCommit,
  ) {
    this.stmts = {
      put: db.prepare('INSERT OR REPLACE INTO broker_wills (client_id, packet, payload) VALUES (?, ?, ?)'),
      get: db.prepare('SELECT packet, payload FROM broker_wills WHERE client_id = ?'),
      del: db.prepare('DELETE FROM broker_wills WHERE client_id = ?'),
      all: db.prepare('SELECT packet, payload FROM broker_wills ORDER BY client_id'),
    };
  }

  put(clientId: string, will: QueuedPacket): void {
    const { json, payload } = encodePacket(will);
    this.commit.write(() => this.stmts.put.run(clientId, json, payload));
  }

  get(clientId: string): QueuedPacket | undefined {
    const r = this.stmts.get.get(clientId) as { packet: string; payload: Buffer | null } | undefined;
    return r ? (decodePacket(r.packet, r.payload) as QueuedPacket) : undefined;
  }

  delete(clientId: string): QueuedPacket | undefined {
    const will = this.get(clientId);
    if (will) this.commit.write(() => this.stmts.del.run(clientId));
    return will;
  }

  all(): QueuedPacket[] {
    return (this.stmts.all.all() as Array<{ packet: string; payload: Buffer | null }>).map((r) => decodePacket(r.packet, r.payload) as QueuedPacket);
  }
}
