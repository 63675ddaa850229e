// The consortium-wide break-glass setting (DESIGN §9). No single hospital can
// change it: each hospital's admin approves a proposed value, and the value takes
// effect once a MAJORITY of the registered hospitals approved that very value.
// Approvals are counted per hospital (MSP), within the current version of the
// setting, so approvals of an older round never count again.
import type { Context } from 'fabric-contract-api';
import { createHash } from 'node:crypto';
import { invalid } from './errors';
import {
  BREAK_GLASS_ROLES,
  CATEGORIES,
  DEFAULT_BREAK_GLASS_SETTINGS,
  majority,
  MAX_BREAK_GLASS_MINUTES,
  type BreakGlassRole,
  type BreakGlassSettings,
  type Category,
} from '@ehr/ledger-model';
import { getJson, key, putJson, scan, toBytes, txTime } from './state';
import * as v from './validate';

export const BREAK_GLASS_KEY = {
  /** The setting in force: { settings, version, approvedAt, approvedBy }. */
  settings: 'breakglass~settings',
  /** breakglass~approval ~ version ~ digest ~ mspId: one hospital's approval of one value. */
  approval: 'breakglass~approval',
  /** emergency~consent ~ consentId: every emergency grant, for the auditors' review list. */
  grant: 'emergency~consent',
} as const;

export interface StoredSettings {
  settings: BreakGlassSettings;
  /** 0 while the defaults apply; +1 with every change. */
  version: number;
  approvedAt: string | null;
  approvedBy: string[];
}

export interface Approval {
  settings: BreakGlassSettings;
  approvedAt: string;
  actor: string;
}

/** Lists sorted as toBytes stores them (it sorts arrays too), so a value reads back as it was approved. */
const normalized = (s: BreakGlassSettings): BreakGlassSettings => ({ ...s, allowedRoles: [...s.allowedRoles].sort(), categories: [...s.categories].sort() });

export async function currentSettings(ctx: Context): Promise<StoredSettings> {
  return (
    (await getJson<StoredSettings>(ctx, key(ctx, BREAK_GLASS_KEY.settings))) ?? {
      settings: normalized(DEFAULT_BREAK_GLASS_SETTINGS),
      version: 0,
      approvedAt: null,
      approvedBy: [],
    }
  );
}

function minutes(name: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 1 || x > MAX_BREAK_GLASS_MINUTES) {
    throw invalid(`${name} must be a whole number of minutes from 1 to ${MAX_BREAK_GLASS_MINUTES}`);
  }
  return x;
}

/** A complete setting as JSON; categories and roles sorted, so equal values hash equal. */
export function parseSettings(text: unknown): BreakGlassSettings {
  const o = v.plainObject('settings', v.json('settings', text), ['enabled', 'allowedRoles', 'defaultDurationMinutes', 'maxDurationMinutes', 'categories']);
  if (typeof o.enabled !== 'boolean') throw invalid('settings.enabled must be true or false');
  const roles = v.uniqueList('settings.allowedRoles', o.allowedRoles, BREAK_GLASS_ROLES.length, (x, n) => v.oneOf<BreakGlassRole>(n, x, BREAK_GLASS_ROLES));
  const categories = v.uniqueList('settings.categories', o.categories, CATEGORIES.length, (x, n) => v.oneOf<Category>(n, x, CATEGORIES));
  const defaultDurationMinutes = minutes('settings.defaultDurationMinutes', o.defaultDurationMinutes);
  const maxDurationMinutes = minutes('settings.maxDurationMinutes', o.maxDurationMinutes);
  if (defaultDurationMinutes > maxDurationMinutes) throw invalid('settings.defaultDurationMinutes must not exceed maxDurationMinutes');
  return normalized({ enabled: o.enabled, allowedRoles: roles, defaultDurationMinutes, maxDurationMinutes, categories });
}

export const settingsDigest = (s: BreakGlassSettings) => createHash('sha256').update(toBytes(s)).digest('hex');

/** The approvals of the current round, per digest of the value approved. */
export async function pendingApprovals(ctx: Context, version: number): Promise<Map<string, { settings: BreakGlassSettings; hospitals: string[] }>> {
  const out = new Map<string, { settings: BreakGlassSettings; hospitals: string[] }>();
  for (const row of await scan(ctx, BREAK_GLASS_KEY.approval, [String(version)])) {
    const [, digest, mspId] = row.attributes;
    const approval = JSON.parse(Buffer.from(row.value).toString('utf8')) as Approval;
    const entry = out.get(digest) ?? { settings: approval.settings, hospitals: [] };
    entry.hospitals.push(mspId);
    out.set(digest, entry);
  }
  return out;
}

/**
 * Records mspId's approval of settings; applies them when a majority of the `members`
 * registered hospitals approved them in this round. Returns what happened.
 */
export async function approveSettings(
  ctx: Context,
  mspId: string,
  actor: string,
  settings: BreakGlassSettings,
  members: number,
): Promise<{ applied: boolean; digest: string; approvals: string[]; needed: number; current: StoredSettings }> {
  const current = await currentSettings(ctx);
  const digest = settingsDigest(settings);
  const pending = await pendingApprovals(ctx, current.version);
  const approvals = new Set(pending.get(digest)?.hospitals ?? []);
  approvals.add(mspId);
  const needed = majority(members);
  const sorted = [...approvals].sort();
  if (approvals.size >= needed) {
    const next: StoredSettings = { settings, version: current.version + 1, approvedAt: txTime(ctx), approvedBy: sorted };
    await putJson(ctx, key(ctx, BREAK_GLASS_KEY.settings), next);
    return { applied: true, digest, approvals: sorted, needed, current: next };
  }
  const approval: Approval = { settings, approvedAt: txTime(ctx), actor };
  await putJson(ctx, key(ctx, BREAK_GLASS_KEY.approval, String(current.version), digest, mspId), approval);
  return { applied: false, digest, approvals: sorted, needed, current };
}
