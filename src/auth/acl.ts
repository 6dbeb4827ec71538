// Topic permissions carried in the token. Two forms are understood:
//  - EMQX 4 style: {"pub": [filters], "sub": [filters], "all": [filters]}
//  - EMQX 5 style: [{"permission": "allow"|"deny", "action": "publish"|"subscribe"|"all", "topic": filter}],
//    first matching rule wins, no match denies.
// Filters may use %u (username) and %c (client id). A placeholder whose value
// holds a wildcard character makes that filter match nothing, so a username
// like "#" can never widen a grant.
import { AuthRefusal } from './reasons.js';
import { filterContains, isValidFilter, topicMatches } from './topics.js';

export type AclAction = 'publish' | 'subscribe';

interface AclRule {
  permission: 'allow' | 'deny';
  action: AclAction | 'all';
  filter: string;
}

export interface Acl {
  /** Publishing to a topic name. */
  canPublish(topic: string): boolean;
  /** Subscribing with a topic filter: allowed when contained in a granted filter. */
  canSubscribe(filter: string): boolean;
}

export const ALLOW_ALL: Acl = { canPublish: () => true, canSubscribe: () => true };
export const DENY_ALL: Acl = { canPublish: () => false, canSubscribe: () => false };

export interface Identity {
  username?: string;
  clientId: string;
}

class RuleAcl implements Acl {
  constructor(private readonly rules: AclRule[]) {}

  canPublish(topic: string): boolean {
    return this.decide('publish', (f) => topicMatches(f, topic));
  }

  canSubscribe(filter: string): boolean {
    // A deny rule applies to a subscription that overlaps it at all; an allow
    // rule only when it contains the whole requested filter.
    for (const r of this.rules) {
      if (r.action !== 'all' && r.action !== 'subscribe') continue;
      if (r.permission === 'allow' ? filterContains(r.filter, filter) : overlaps(r.filter, filter)) return r.permission === 'allow';
    }
    return false;
  }

  private decide(action: AclAction, matches: (filter: string) => boolean): boolean {
    for (const r of this.rules) {
      if ((r.action === action || r.action === 'all') && matches(r.filter)) return r.permission === 'allow';
    }
    return false;
  }
}

/** Is there any topic that both filters match? */
function overlaps(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] === '#' || y[i] === '#') return true;
    if (x[i] === undefined || y[i] === undefined) return false;
    if (x[i] !== '+' && y[i] !== '+' && x[i] !== y[i]) return false;
  }
  return true;
}

function substitute(filter: string, id: Identity): string | null {
  let ok = true;
  const out = filter.replace(/%[uc]/g, (m) => {
    const value = m === '%u' ? id.username : id.clientId;
    if (value === undefined || value === '' || /[+#]/.test(value)) ok = false;
    return value ?? '';
  });
  return ok && isValidFilter(out) ? out : null;
}

const ACTIONS: Record<string, AclRule['action']> = { pub: 'publish', sub: 'subscribe', all: 'all', publish: 'publish', subscribe: 'subscribe' };

/** Builds the ACL from the claim value; `undefined` means the token has no ACL claim. */
export function parseAclClaim(claim: unknown, id: Identity, defaultAcl: 'allow' | 'deny'): Acl {
  if (claim === undefined) return defaultAcl === 'allow' ? ALLOW_ALL : DENY_ALL;
  const rules: AclRule[] = [];
  const add = (permission: AclRule['permission'], action: AclRule['action'], raw: unknown): void => {
    if (typeof raw !== 'string') throw new AuthRefusal('JWT_ACL_INVALID', 'topic filters must be strings');
    const filter = substitute(raw, id);
    if (filter !== null) rules.push({ permission, action, filter });
  };
  if (Array.isArray(claim)) {
    for (const rule of claim) {
      if (typeof rule !== 'object' || rule === null) throw new AuthRefusal('JWT_ACL_INVALID', 'rules must be objects');
      const r = rule as Record<string, unknown>;
      const permission = r.permission ?? 'allow';
      const action = ACTIONS[String(r.action ?? 'all')];
      if ((permission !== 'allow' && permission !== 'deny') || !action) throw new AuthRefusal('JWT_ACL_INVALID', 'bad permission or action');
      const topics = Array.isArray(r.topics) ? r.topics : [r.topic];
      for (const t of topics) add(permission, action, t);
    }
    return new RuleAcl(rules);
  }
  if (typeof claim === 'object' && claim !== null) {
    for (const [key, filters] of Object.entries(claim as Record<string, unknown>)) {
      const action = ACTIONS[key];
      if (!action || !Array.isArray(filters)) throw new AuthRefusal('JWT_ACL_INVALID', `unknown key ${JSON.stringify(key).slice(0, 40)} or not a list`);
      for (const f of filters) add('allow', action, f);
    }
    return new RuleAcl(rules);
  }
  throw new AuthRefusal('JWT_ACL_INVALID', 'must be an object or a list of rules');
}
