/*
 * Vital signs as FHIR R4 Observations (vital-signs category): one per stored sample, derived
 * from the encrypted `vitals` chunk it was read from. A single value is a valueQuantity, a
 * waveform burst (ECG lead) a valueSampledData.
 */
import type { Observation } from 'fhir/r4.js';
import { VITAL_CODES, type VitalSample } from '../vitals/samples.js';
import { patientIdentifier } from './codes.js';

const UCUM = 'http://unitsofmeasure.org';
const OBSERVATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';

/** The sample's coding as a search token matches it: `system|code` or the bare code. */
export function codeMatches(sample: Pick<VitalSample, 'code'>, token: string): boolean {
    const { system, code } = VITAL_CODES[sample.code];
    return token === code || token === `${system}|${code}` || token === sample.code;
}

/** The sample at `index` of chunk `recordId` as an Observation (id `<recordId>-<index>`, stable). */
export function observation(sample: VitalSample, index: number, recordId: string, patientId: string): Observation {
    const coding = VITAL_CODES[sample.code];
    const quantity = { unit: sample.unit, system: UCUM, code: sample.unit };
    return {
        resourceType: 'Observation',
        id: `${recordId}-${index}`,
        status: 'final',
        category: [{ coding: [{ system: OBSERVATION_CATEGORY, code: 'vital-signs', display: 'Vital Signs' }] }],
        code: { coding: [{ system: coding.system, code: coding.code, display: coding.display }], text: sample.code },
        subject: patientIdentifier(patientId),
        effectiveDateTime: sample.t,
        ...(sample.values
            ? { valueSampledData: { origin: { value: 0, ...quantity }, period: sample.periodMs ?? 0, dimensions: 1, data: sample.values.join(' ') } }
            : { valueQuantity: { value: sample.value, ...quantity } }),
        derivedFrom: [{ reference: `DocumentReference/${recordId}` }],
    };
}
