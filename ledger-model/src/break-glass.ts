// Break-glass (emergency) access, DESIGN §9: a clinician at a hospital without
// consent declares an emergency; the ledger records a consent-like grant to that
// hospital, purpose `emergency`, limited in time and scope by a consortium-wide
// setting that no single hospital can change. Only codes and a commitment to the
// justification reach the ledger; the justification itself stays at the
// declaring hospital's gateway.
import type { ActorRole, Category } from './vocabulary.js';
import { CATEGORIES } from './vocabulary.js';

/** Why the glass was broken: a small fixed vocabulary, never free text (PHI). */
export const EMERGENCY_REASONS = [
  'unconscious',
  'life-threatening',
  'unable-to-consent',
  'patient-unreachable',
  'urgent-treatment',
] as const;
export type EmergencyReason = (typeof EMERGENCY_REASONS)[number];

/** Roles that may ever declare an emergency; the setting narrows them further. */
export const BREAK_GLASS_ROLES = ['clinician', 'admin'] as const satisfies readonly ActorRole[];
export type BreakGlassRole = (typeof BREAK_GLASS_ROLES)[number];

/** Hard bounds on the configurable durations (a week at most). */
export const MAX_BREAK_GLASS_MINUTES = 7 * 24 * 60;

/** The consortium-wide setting (changed only by a MAJORITY of hospitals' admins). */
export interface BreakGlassSettings {
  enabled: boolean;
  allowedRoles: BreakGlassRole[];
  defaultDurationMinutes: number;
  maxDurationMinutes: number;
  /** The categories an emergency grant may cover (and covers when none are named). */
  categories: Category[];
}

/** In force while no setting was ever approved: enabled for clinicians, 4 h (12 h at most), every category. */
export const DEFAULT_BREAK_GLASS_SETTINGS: BreakGlassSettings = {
  enabled: true,
  allowedRoles: ['clinician'],
  defaultDurationMinutes: 240,
  maxDurationMinutes: 720,
  categories: [...CATEGORIES],
};

/** What marks a consent as an emergency grant (on the ledger, beside the consent's fields). */
export interface EmergencyGrant {
  reasonCode: EmergencyReason;
  /** Actor pseudonym of the declaring clinician. */
  declaredBy: string;
  declaredRole: BreakGlassRole;
  /**
   * Hex SHA-256 commitment to the justification (salted at the declaring gateway, which
   * keeps text and salt): proves later which text was given, reveals nothing of it.
   */
  justificationDigest: string;
}

/** The access basis an emergency grant gives: the consentId behind a `breakglass:` prefix. */
export const BREAK_GLASS_BASIS_PREFIX = 'breakglass:';
export const breakGlassBasis = (consentId: string) => `${BREAK_GLASS_BASIS_PREFIX}${consentId}`;
export const isBreakGlassBasis = (basis: string) => basis.startsWith(BREAK_GLASS_BASIS_PREFIX);
