/*
 * The identifier systems and code systems the FHIR endpoint speaks, and the mapping of our
 * purposes of use to HL7 v3 ActReason (the PurposeOfUse value set of FHIR security labels).
 */
import type { Coding } from 'fhir/r4.js';
import { CATEGORIES, PURPOSES, type Category, type Purpose } from '../domain.js';
import { BadRequestError } from '../http/problem.js';

/** Our patient IDs (`<home MSP ID>:<local>`): not valid FHIR ids, so always a logical reference by identifier. */
export const PATIENT_ID_SYSTEM = 'urn:ehr:patient-id';
/** Hospitals by MSP ID (Organization). */
export const MSP_ID_SYSTEM = 'urn:ehr:msp-id';
/** Actor pseudonyms (the token's `sub`). */
export const ACTOR_SYSTEM = 'urn:ehr:actor';
/** Record, consent and request IDs (UUIDs). */
export const RECORD_ID_SYSTEM = 'urn:ehr:record-id';
export const CONSENT_ID_SYSTEM = 'urn:ehr:consent-id';
/** Fabric transaction IDs. */
export const TX_ID_SYSTEM = 'urn:ehr:fabric-tx-id';
/** IPFS CIDs of the encrypted blobs. */
export const CID_SYSTEM = 'urn:ehr:ipfs-cid';
/** Our document categories (DESIGN §4). */
export const CATEGORY_SYSTEM = 'urn:ehr:category';
/** Our ledger event types, as AuditEvent subtypes. */
export const EVENT_TYPE_SYSTEM = 'urn:ehr:event-type';
/** Our purposes by their own names (accepted wherever a v3 ActReason code is). */
export const PURPOSE_SYSTEM = 'urn:ehr:purpose';

export const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';

/** Purpose of use ↔ v3 ActReason (PurposeOfUse). */
export const PURPOSE_TO_ACT_REASON: Record<Purpose, { code: string; display: string }> = {
    treatment: { code: 'TREAT', display: 'treatment' },
    research: { code: 'HRESCH', display: 'healthcare research' },
    insurance: { code: 'COVERAGE', display: 'coverage under policy or program' },
    'public-health': { code: 'PUBHLTH', display: 'public health' },
    payment: { code: 'HPAYMT', display: 'healthcare payment' },
    operations: { code: 'HOPERAT', display: 'healthcare operations' },
    // Break-glass grants: FHIR Consent and AuditEvent show the emergency purpose as ETREAT.
    emergency: { code: 'ETREAT', display: 'emergency treatment' },
};

const ACT_REASON_TO_PURPOSE = new Map(Object.entries(PURPOSE_TO_ACT_REASON).map(([p, c]) => [c.code, p as Purpose]));

export function purposeCoding(purpose: Purpose): Coding {
    const c = PURPOSE_TO_ACT_REASON[purpose];
    return { system: ACT_REASON, code: c.code, display: c.display };
}

/**
 * A purpose as a client may name it: a v3 ActReason code (`TREAT`, or the token
 * `http://terminology.hl7.org/CodeSystem/v3-ActReason|TREAT`), or our own name (`treatment`,
 * `urn:ehr:purpose|treatment`). Undefined when it is none of those.
 */
export function purposeOf(value: string): Purpose | undefined {
    const [system, code] = value.includes('|') ? [value.slice(0, value.lastIndexOf('|')), value.slice(value.lastIndexOf('|') + 1)] : [undefined, value];
    if (system === undefined || system === ACT_REASON) {
        const p = ACT_REASON_TO_PURPOSE.get(code);
        if (p) return p;
    }
    if (system === undefined || system === PURPOSE_SYSTEM) {
        if ((PURPOSES as readonly string[]).includes(code)) return code as Purpose;
    }
    return undefined;
}

export function purposeOfCoding(c: Coding): Purpose | undefined {
    return c.code ? purposeOf(c.system ? `${c.system}|${c.code}` : c.code) : undefined;
}

export const PURPOSE_HELP = `a PurposeOfUse code of ${ACT_REASON} (${Object.entries(PURPOSE_TO_ACT_REASON)
    .map(([p, c]) => `${c.code} = ${p}`)
    .join(', ')}) or one of our purposes (${PURPOSES.join(', ')})`;

export function categoryCoding(category: Category): Coding {
    return { system: CATEGORY_SYSTEM, code: category, display: category };
}

export function categoryOf(value: string): Category | undefined {
    const [system, code] = value.includes('|') ? [value.slice(0, value.lastIndexOf('|')), value.slice(value.lastIndexOf('|') + 1)] : [undefined, value];
    if (system !== undefined && system !== '' && system !== CATEGORY_SYSTEM) return undefined;
    return (CATEGORIES as readonly string[]).includes(code) ? (code as Category) : undefined;
}

/** A token search value for a patient: `urn:ehr:patient-id|<id>` (or the bare ID). */
export function patientIdOfToken(value: string, param: string): string {
    const bar = value.indexOf('|');
    // Our patient IDs contain ':' but never '|': the system ends at the first bar.
    const [system, id] = bar >= 0 ? [value.slice(0, bar), value.slice(bar + 1)] : [PATIENT_ID_SYSTEM, value];
    if (system !== PATIENT_ID_SYSTEM || id === '') {
        throw new BadRequestError(`${param} takes a patient identifier token: ${PATIENT_ID_SYSTEM}|<patient ID>`, [{ field: `query.${param}`, message: `expected ${PATIENT_ID_SYSTEM}|<patient ID>` }]);
    }
    return id;
}

export const patientIdentifier = (patientId: string) => ({ identifier: { system: PATIENT_ID_SYSTEM, value: patientId }, type: 'Patient' });
export const organization = (mspId: string) => ({ identifier: { system: MSP_ID_SYSTEM, value: mspId }, type: 'Organization', display: mspId });
