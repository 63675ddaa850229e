import { Invalid, TooLarge } from '../domain-errors.js';
import { fromNdjson, parseSamples, toNdjson, TooManySamples, windows } from './samples.js';

const limits = { maxBytes: 64 * 1024, maxSamples: 100 };
const line = (t: string, extra: Record<string, unknown> = { code: 'heart-rate', value: 70, unit: '/min' }) => JSON.stringify({ t, ...extra });
const body = (...lines: string[]) => Buffer.from(lines.join('\n') + '\n');

describe('vital-sign samples', () => {
    it('parses NDJSON samples (values or a waveform burst), skipping blank lines', () => {
        const samples = parseSamples(
            body(line('2026-01-01T00:00:00Z'), '', line('2026-01-01T00:00:00.5Z', { code: 'ecg-ii', values: [0.1, -0.2], periodMs: 4, unit: 'mV' })),
            limits,
        );
        expect(samples).toEqual([
            { t: '2026-01-01T00:00:00Z', code: 'heart-rate', value: 70, unit: '/min' },
            { t: '2026-01-01T00:00:00.5Z', code: 'ecg-ii', values: [0.1, -0.2], periodMs: 4, unit: 'mV' },
        ]);
        expect(fromNdjson(toNdjson(samples))).toEqual(samples);
    });

    it.each([
        ['a line that is not JSON', body(line('2026-01-01T00:00:00Z'), '{oops'), /line 2 is not JSON/],
        ['an unknown field (free text)', body(line('2026-01-01T00:00:00Z', { code: 'spo2', value: 97, unit: '%', note: 'x' })), /line 1 is not a valid sample/],
        ['an unknown code', body(line('2026-01-01T00:00:00Z', { code: 'mood', value: 1, unit: '1' })), /line 1/],
        ['a unit that is not the code\'s', body(line('2026-01-01T00:00:00Z', { code: 'heart-rate', value: 70, unit: 'bpm' })), /line 1/],
        ['both value and values', body(line('2026-01-01T00:00:00Z', { code: 'ecg-i', value: 1, values: [1], periodMs: 4, unit: 'mV' })), /line 1/],
        ['values without their period', body(line('2026-01-01T00:00:00Z', { code: 'ecg-i', values: [1], unit: 'mV' })), /line 1/],
        ['a time without zone', body(line('2026-01-01T00:00:00')), /line 1/],
        ['a timestamp earlier than the line before', body(line('2026-01-01T00:00:01Z'), line('2026-01-01T00:00:00Z')), /line 2: timestamp .* earlier/],
        ['no samples at all', Buffer.from('\n\n'), /no samples/],
    ])('refuses %s (400 naming the line)', (_what, input, detail) => {
        let err: unknown;
        try {
            parseSamples(input, limits);
        } catch (e) {
            err = e;
        }
        expect(err).toBeInstanceOf(Invalid);
        expect((err as Invalid).message).toMatch(detail);
    });

    it('takes equal timestamps (several codes at one instant)', () => {
        expect(parseSamples(body(line('2026-01-01T00:00:00Z'), line('2026-01-01T00:00:00Z', { code: 'spo2', value: 98, unit: '%' })), limits)).toHaveLength(2);
    });

    it('refuses more samples or bytes than allowed (413)', () => {
        const many = body(...Array.from({ length: 101 }, (_, i) => line(new Date(Date.UTC(2026, 0, 1) + i).toISOString())));
        expect(() => parseSamples(many, limits)).toThrow(TooManySamples);
        expect(() => parseSamples(Buffer.alloc(limits.maxBytes + 1, 0x20), limits)).toThrow(TooLarge);
    });

    it('cuts samples into windows aligned on the window width', () => {
        const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();
        const samples = parseSamples(body(line(at(0)), line(at(59)), line(at(60)), line(at(185))), limits);
        expect(windows(samples, 60_000).map((w) => [w.start, w.end, w.samples.length])).toEqual([
            [at(0), at(60), 2],
            [at(60), at(120), 1],
            [at(180), at(240), 1],
        ]);
    });
});
