/*
 * Vital-sign samples as a device posts them: NDJSON, one sample a line. The whole body is
 * parsed and checked before anything is stored, so a bad line writes nothing; samples are
 * then cut into time windows, each stored as one encrypted `vitals` record.
 */
import { z } from '../api/zod.js';
import { Invalid, TooLarge } from '../domain-errors.js';

const LOINC = 'http://loinc.org';
/** ISO/IEEE 11073 MDC nomenclature: LOINC has no per-lead ECG waveform codes; FHIR's own ECG example uses these. */
const MDC = 'urn:oid:2.16.840.1.113883.6.24';

/** Codes a sample may carry, with the coding FHIR Observations use and the UCUM unit the value must be in. */
export const VITAL_CODES = {
    'heart-rate': { system: LOINC, code: '8867-4', display: 'Heart rate', unit: '/min' },
    spo2: { system: LOINC, code: '59408-5', display: 'Oxygen saturation in Arterial blood by Pulse oximetry', unit: '%' },
    'resp-rate': { system: LOINC, code: '9279-1', display: 'Respiratory rate', unit: '/min' },
    'body-temp': { system: LOINC, code: '8310-5', display: 'Body temperature', unit: 'Cel' },
    'bp-systolic': { system: LOINC, code: '8480-6', display: 'Systolic blood pressure', unit: 'mm[Hg]' },
    'bp-diastolic': { system: LOINC, code: '8462-4', display: 'Diastolic blood pressure', unit: 'mm[Hg]' },
    'ecg-i': { system: MDC, code: '131329', display: 'MDC_ECG_ELEC_POTL_I', unit: 'mV' },
    'ecg-ii': { system: MDC, code: '131330', display: 'MDC_ECG_ELEC_POTL_II', unit: 'mV' },
    'ecg-iii': { system: MDC, code: '131389', display: 'MDC_ECG_ELEC_POTL_III', unit: 'mV' },
} as const;
export type VitalCode = keyof typeof VITAL_CODES;
const CODES = Object.keys(VITAL_CODES) as [VitalCode, ...VitalCode[]];

/** Waveform values one sample may carry (an ECG lead's burst). */
export const MAX_VALUES_PER_SAMPLE = 1000;

/**
 * One sample. Strict: an unknown field is refused, so no free text (PHI) rides along; the unit
 * must be the code's UCUM unit, so a value is never misread.
 */
export const VitalSample = z
    .strictObject({
        t: z.iso.datetime({ offset: true }),
        code: z.enum(CODES),
        value: z.number().finite().optional(),
        values: z.array(z.number().finite()).min(1).max(MAX_VALUES_PER_SAMPLE).optional(),
        /** Milliseconds between `values` (a waveform is meaningless without its sampling period). */
        periodMs: z.number().positive().max(60_000).optional(),
        unit: z.string().max(16),
    })
    .superRefine((s, ctx) => {
        if ((s.value === undefined) === (s.values === undefined)) ctx.addIssue({ code: 'custom', message: 'exactly one of value and values' });
        if ((s.values === undefined) !== (s.periodMs === undefined)) ctx.addIssue({ code: 'custom', path: ['periodMs'], message: 'periodMs goes with values, and only with them' });
        if (s.unit !== VITAL_CODES[s.code].unit) ctx.addIssue({ code: 'custom', path: ['unit'], message: `${s.code} is in ${VITAL_CODES[s.code].unit}` });
    });
export type VitalSample = z.output<typeof VitalSample>;

export interface SampleLimits {
    maxBytes: number;
    maxSamples: number;
}

/** The refusal of a body with more samples than allowed (413, like an oversized body). */
export class TooManySamples extends TooLarge {
    constructor(readonly maxSamples: number, limitBytes: number) {
        super(limitBytes, { detail: `the stream has more than ${maxSamples} samples (vitals.maxSamplesPerRequest): post it in parts` });
    }
}

/**
 * Every line of the body as a sample, in non-decreasing time order. Blank lines are skipped
 * (a trailing newline is usual). A line that fails is named by its number (1-based).
 */
export function parseSamples(body: Buffer, limits: SampleLimits): VitalSample[] {
    if (body.length > limits.maxBytes) throw new TooLarge(limits.maxBytes);
    const lines = body.toString('utf8').split('\n');
    const samples: VitalSample[] = [];
    let previous = -Infinity;
    for (const [i, raw] of lines.entries()) {
        const line = raw.trim();
        if (line === '') continue;
        const n = i + 1;
        if (samples.length >= limits.maxSamples) throw new TooManySamples(limits.maxSamples, limits.maxBytes);
        let json: unknown;
        try {
            json = JSON.parse(line);
        } catch {
            throw new Invalid(`line ${n} is not JSON: nothing was stored`, [{ field: `body[line ${n}]`, message: 'not JSON' }]);
        }
        const parsed = VitalSample.safeParse(json);
        if (!parsed.success) {
            const issues = parsed.error.issues.map((issue) => ({ field: `body[line ${n}]${issue.path.map((k) => `.${String(k)}`).join('')}`, message: issue.message }));
            throw new Invalid(`line ${n} is not a valid sample: nothing was stored`, issues);
        }
        const at = Date.parse(parsed.data.t);
        if (at < previous) {
            throw new Invalid(`line ${n}: timestamp ${parsed.data.t} is earlier than the line before; samples must be in time order: nothing was stored`, [
                { field: `body[line ${n}].t`, message: 'earlier than the previous sample' },
            ]);
        }
        previous = at;
        samples.push(parsed.data);
    }
    if (samples.length === 0) throw new Invalid('the body holds no samples: nothing was stored', [{ field: 'body', message: 'no samples' }]);
    return samples;
}

export interface SampleWindow {
    /** ISO start of the window (inclusive). */
    start: string;
    /** ISO end (exclusive). */
    end: string;
    samples: VitalSample[];
}

/** Samples (in time order) cut into windows aligned on multiples of windowMs since the epoch. */
export function windows(samples: readonly VitalSample[], windowMs: number): SampleWindow[] {
    const out: SampleWindow[] = [];
    for (const sample of samples) {
        const slot = Math.floor(Date.parse(sample.t) / windowMs);
        const start = new Date(slot * windowMs).toISOString();
        const last = out.at(-1);
        if (last?.start === start) last.samples.push(sample);
        else out.push({ start, end: new Date((slot + 1) * windowMs).toISOString(), samples: [sample] });
    }
    return out;
}

/** A window's samples as stored: NDJSON, one sample a line. */
export const NDJSON = 'application/x-ndjson';
export const toNdjson = (samples: readonly VitalSample[]): string => samples.map((s) => JSON.stringify(s)).join('\n') + '\n';

/** Samples read back from a stored chunk (written by toNdjson, so every line is one). */
export function fromNdjson(text: string): VitalSample[] {
    return text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as VitalSample);
}
