// Topic permissions carried in the token. Two forms are understood:
//  - EMQX 4 style: {"pub": [filters], "sub": [filters], "all": [filters]}
//  - EMQX 5 style: [{"permission": "allow"|"deny", "action": "publish"|"subscribe"|"all",
//    "topic": filter (or "topics": [filters]), "qos": [0,1,2]?, "retain": bool?}],
//    first matching rule wins, no match denies. A topic "eq t/#" matches only
//    that exact text (no wildcard expansion), as in EMQX.
// Filters may use %u / ${username} and %c / ${clientid}. A placeholder whose
// value holds a wildcard character makes that filter match nothing, so a
// username like "#" can never widen a grant.

import { jsonObject } from '../json.js';
import { filterContains, isValidFilter, topicMatches } from '../mqtt/topics.js';
import { AuthRefusal } from './reasons.js';

export type AclAction = 'publish' | 'subscribe';

interface AclRule {
  permission: 'allow' | 'deny';
  action: AclAction | 'all';
  filter: string;
  /** "eq" topic: compared as text, wildcards are literal. */
  exact: boolean;
  /** QoS levels the rule applies to; undefined = all. */
  qos?: number[];
  /** Publish only: the rule applies to retained (true) or non-retained (false) messages; undefined = both. */
  retain?: boolean;
}

export interface PublishFacts {
  qos?: number;
  retain?: boolean;
}

export interface Acl {
  /** Publishing to a topic name (with its QoS and retain flag, for EMQX 5 rules that name them). */
  canPublish(topic: string, facts?: PublishFacts): boolean;
  /** Subscribing with a topic filter at a QoS: allowed when contained in a granted filter. */
  canSubscribe(filter: string, qos?: number): boolean;
}

export const ALLOW_ALL: Acl = { canPublish: () => true, canSubscribe: () => true };
export const DENY_ALL: Acl = { canPublish: () => false, canSubscribe: () => false };

export interface Identity {
  username?: string;
  clientId: string;
}

class RuleAcl implements Acl {
  constructor(private readonly rules: AclRule[]) {}

  canPublish(topic: string, facts: PublishFacts = {}): boolean {
    for (const r of this.rules) {
      if (r.action === 'subscribe' || !qosFits(r, facts.qos)) continue;
      if (r.retain !== undefined && facts.retain !== undefined && r.retain !== facts.retain) continue;
      if (r.exact ? r.filter === topic : topicMatches(r.filter, topic)) return r.permission === 'allow';
    }
    return false;
  }

  canSubscribe(filter: string, qos?: number): boolean {
    // A deny rule applies to a subscription that overlaps it at all; an allow
    // rule only when it contains the whole requested filter.
    for (const r of this.rules) {
      if (r.action === 'publish' || !qosFits(r, qos)) continue;
      const hit = r.exact ? r.filter === filter : r.permission === 'allow' ? filterContains(r.filter, filter) : overlaps(r.filter, filter);
      if (hit) return r.permission === 'allow';
    }
    return false;
  }
}

function qosFits(r: AclRule, qos: number | undefined): boolean {
  return r.qos === undefined || qos === undefined || r.qos.includes(qos);
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

/** %u, %c (EMQX 4) and ${username}, ${clientid} (EMQX 5). */
export const PLACEHOLDER = /%[uc]|\$\{(?:username|clientid)\}/g;

export function placeholderValue(placeholder: string, id: Identity): string | undefined {
  return placeholder === '%u' || placeholder === '${username}' ? id.username : id.clientId;
}

/** A filter with its placeholders located once: literal parts, and between them the placeholders. */
interface FilterTemplate {
  literals: string[];
  placeholders: string[];
}

function filterTemplate(filter: string): FilterTemplate | string {
  const literals: string[] = [];
  const placeholders: string[] = [];
  let last = 0;
  for (const m of filter.matchAll(PLACEHOLDER)) {
    literals.push(filter.slice(last, m.index));
    placeholders.push(m[0]);
    last = m.index! + m[0].length;
  }
  if (placeholders.length === 0) return filter;
  literals.push(filter.slice(last));
  return { literals, placeholders };
}

function substitute(filter: FilterTemplate | string, id: Identity): string | null {
  if (typeof filter === 'string') return isValidFilter(filter) ? filter : null;
  let out = filter.literals[0]!;
  for (let i = 0; i < filter.placeholders.length; i++) {
    const value = placeholderValue(filter.placeholders[i]!, id);
    if (value === undefined || value === '' || value.includes('+') || value.includes('#')) return null;
    out += value + filter.literals[i + 1]!;
  }
  return isValidFilter(out) ? out : null;
}

const ACTIONS: Record<string, AclRule['action']> = { pub: 'publish', sub: 'subscribe', all: 'all', publish: 'publish', subscribe: 'subscribe' };

/** EMQX 5.9 rule conditions this gateway does not evaluate. */
const UNSUPPORTED_CONDITIONS = ['clientid_re', 'username_re', 'ipaddr', 'zone', 'zone_re', 'listener', 'listener_re'];

function ruleOptions(r: Record<string, unknown>): Pick<AclRule, 'qos' | 'retain'> {
  const out: Pick<AclRule, 'qos' | 'retain'> = {};
  if (r.qos !== undefined) {
    const list = Array.isArray(r.qos) ? r.qos : [r.qos];
    if (!list.every((q) => q === 0 || q === 1 || q === 2)) throw new AuthRefusal('JWT_ACL_INVALID', 'qos must list 0, 1 or 2');
    out.qos = list as number[];
  }
  if (r.retain !== undefined) {
    if (typeof r.retain !== 'boolean') throw new AuthRefusal('JWT_ACL_INVALID', 'retain must be true or false');
    out.retain = r.retain;
  }
  return out;
}

/** A rule as the claim states it, before %u / %c are filled in for one connection. */
interface RuleTemplate extends Omit<AclRule, 'filter'> {
  filter: FilterTemplate | string;
}

// Parsed claims by their JSON text: fleets mint the same ACL shape for every
// device, so a reconnect storm parses it once and only fills in placeholders
// per connection. Bounded (oldest dropped) so garbage tokens cannot grow it.
const TEMPLATE_MEMO_MAX = 128;
const TEMPLATE_KEY_MAX_CHARS = 4096;
const templateMemo = new Map<string, RuleTemplate[]>();

function ruleTemplates(claim: unknown): RuleTemplate[] {
  const key = JSON.stringify(claim);
  if (key === undefined || key.length > TEMPLATE_KEY_MAX_CHARS) return compileClaim(claim);
  let templates = templateMemo.get(key);
  if (!templates) {
    templates = compileClaim(claim);
    if (templateMemo.size >= TEMPLATE_MEMO_MAX) templateMemo.delete(templateMemo.keys().next().value as string);
    templateMemo.set(key, templates);
  }
  return templates;
}

/** Builds the ACL from the claim value; `undefined` means the token has no ACL claim. */
export function parseAclClaim(claim: unknown, id: Identity, defaultAcl: 'allow' | 'deny'): Acl {
  if (claim === undefined) return defaultAcl === 'allow' ? ALLOW_ALL : DENY_ALL;
  const rules: AclRule[] = [];
  for (const t of ruleTemplates(claim)) {
    const filter = substitute(t.filter, id);
    if (filter !== null) rules.push({ ...t, filter });
  }
  return new RuleAcl(rules);
}

/** Validates the claim (throws JWT_ACL_INVALID) and lists its rules in order, placeholders unfilled. */
function compileClaim(claim: unknown): RuleTemplate[] {
  const rules: RuleTemplate[] = [];
  const add = (permission: AclRule['permission'], action: AclRule['action'], raw: unknown, options: Pick<AclRule, 'qos' | 'retain'> = {}): void => {
    if (typeof raw !== 'string') throw new AuthRefusal('JWT_ACL_INVALID', 'topic filters must be strings');
    const exact = raw.startsWith('eq ');
    rules.push({ permission, action, filter: filterTemplate(exact ? raw.slice(3) : raw), exact, ...options });
  };
  if (Array.isArray(claim)) {
    for (const rule of claim) {
      const r = jsonObject(rule);
      if (!r) throw new AuthRefusal('JWT_ACL_INVALID', 'rules must be objects');
      const permission = r.permission ?? 'allow';
      const action = ACTIONS[String(r.action ?? 'all')];
      if ((permission !== 'allow' && permission !== 'deny') || !action) throw new AuthRefusal('JWT_ACL_INVALID', 'bad permission or action');
      const options = ruleOptions(r);
      // A condition we cannot evaluate: an allow rule never matches (no widening),
      // a deny rule applies regardless (fail closed).
      if (permission === 'allow' && UNSUPPORTED_CONDITIONS.some((k) => k in r)) continue;
      const topics = Array.isArray(r.topics) ? r.topics : [r.topic];
      for (const t of topics) add(permission, action, t, options);
    }
    return rules;
  }
  const byAction = jsonObject(claim);
  if (byAction) {
    for (const [key, filters] of Object.entries(byAction)) {
      const action = ACTIONS[key];
      if (!action || !Array.isArray(filters)) throw new AuthRefusal('JWT_ACL_INVALID', `unknown key ${JSON.stringify(key).slice(0, 40)} or not a list`);
      for (const f of filters) add('allow', action, f);
    }
    return rules;
  }
  throw new AuthRefusal('JWT_ACL_INVALID', 'must be an object or a list of rules');
}
