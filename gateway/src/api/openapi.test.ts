import { openApiDocument } from './openapi.js';

type Schema = Record<string, unknown>;

/**
 * The OpenAPI 3.1 document as a JSON Schema validator reads it: every `pattern` is an
 * ECMA-262 regular expression compiled with the `u` flag (JSON Schema 2020-12 §6.4), and
 * every example must satisfy the patterns of its own schema.
 */
describe('OpenAPI document', () => {
    const document = JSON.parse(JSON.stringify(openApiDocument())) as Schema;
    const components = ((document.components as Schema | undefined)?.schemas ?? {}) as Record<string, Schema>;

    function resolve(schema: Schema): Schema {
        const ref = schema.$ref;
        if (typeof ref !== 'string') return schema;
        const name = ref.replace('#/components/schemas/', '');
        const target = components[name];
        if (!target) throw new Error(`unresolved $ref ${ref}`);
        return resolve(target);
    }

    /** Every schema object in the document, with where it is. */
    function* schemas(node: unknown, at: string): Generator<[string, Schema]> {
        if (Array.isArray(node)) {
            for (const [i, item] of node.entries()) yield* schemas(item, `${at}[${i}]`);
            return;
        }
        if (typeof node !== 'object' || node === null) return;
        const obj = node as Schema;
        if ('pattern' in obj || 'example' in obj || 'examples' in obj || 'type' in obj || '$ref' in obj) yield [at, obj];
        for (const [key, value] of Object.entries(obj)) yield* schemas(value, `${at}/${key}`);
    }

    /** Pattern violations of value against schema (following $ref, properties, items, allOf/anyOf/oneOf). */
    function violations(schema: Schema, value: unknown, at: string): string[] {
        const s = resolve(schema);
        const out: string[] = [];
        if (typeof s.pattern === 'string' && typeof value === 'string' && !new RegExp(s.pattern, 'u').test(value)) {
            out.push(`${at}: ${JSON.stringify(value)} does not match ${s.pattern}`);
        }
        if (Array.isArray(s.enum) && !s.enum.includes(value)) out.push(`${at}: ${JSON.stringify(value)} not in enum`);
        if (s.properties && typeof value === 'object' && value !== null && !Array.isArray(value)) {
            for (const [key, sub] of Object.entries(s.properties as Record<string, Schema>)) {
                if (key in value) out.push(...violations(sub, (value as Schema)[key], `${at}.${key}`));
            }
        }
        if (s.items && Array.isArray(value)) value.forEach((v, i) => out.push(...violations(s.items as Schema, v, `${at}[${i}]`)));
        for (const sub of (s.allOf as Schema[] | undefined) ?? []) out.push(...violations(sub, value, at));
        for (const key of ['anyOf', 'oneOf'] as const) {
            const options = s[key] as Schema[] | undefined;
            if (options && options.every((o) => violations(o, value, at).length > 0)) out.push(`${at}: matches none of ${key}`);
        }
        return out;
    }

    const all = [...schemas(document, '#')];

    it('has patterns, and every one compiles with the u flag as JSON Schema / ECMA-262 demands', () => {
        const patterns = all.filter(([, s]) => typeof s.pattern === 'string');
        expect(patterns.length).toBeGreaterThan(3);
        for (const [at, s] of patterns) {
            const pattern = s.pattern as string;
            expect(() => new RegExp(pattern, 'u')).not.toThrow();
            // A RegExp's toString (/.../flags) is not a pattern: it would match nothing.
            expect({ at, pattern }).not.toEqual({ at, pattern: expect.stringMatching(/^\/|\/[dgimsuvy]*$/) });
        }
    });

    it("checks examples against their schemas' patterns, and the examples are valid", () => {
        let checked = 0;
        for (const [at, s] of all) {
            const examples = [...('example' in s ? [s.example] : []), ...(Array.isArray(s.examples) ? s.examples : [])];
            for (const example of examples) {
                checked++;
                expect(violations(s, example, at)).toEqual([]);
            }
        }
        expect(checked).toBeGreaterThan(5);
    });

    it('catches an example its pattern refuses (the check itself works)', () => {
        expect(violations({ type: 'string', pattern: '^\\p{L}+$' }, 'abc1', '#')).toHaveLength(1);
        expect(violations({ $ref: '#/components/schemas/PatientId' }, 'bad id', '#')).toHaveLength(1);
        expect(violations({ $ref: '#/components/schemas/PatientId' }, 'pat-002', '#')).toEqual([]);
    });

    it('the reason is a code from the ledger vocabulary, never free text', () => {
        const body = resolve(components.CreateAccessRequestBody);
        const reason = resolve((body.properties as Record<string, Schema>).reason);
        expect(reason.enum).toEqual(['referral', 'second-opinion', 'emergency', 'follow-up', 'continuity-of-care', 'transfer', 'other']);
        expect(reason.pattern).toBeUndefined();
    });

    it('names sizes for what they count: no bare `size`', () => {
        for (const [name, schema] of Object.entries(components)) {
            const properties = Object.keys((schema.properties as Schema | undefined) ?? {});
            expect({ name, size: properties.includes('size') }).toEqual({ name, size: false });
        }
        expect(Object.keys(components.StoredRecord.properties as Schema)).toEqual(expect.arrayContaining(['plaintextSize', 'ciphertextSize']));
        expect(Object.keys(components.RecordMeta.properties as Schema)).toEqual(expect.arrayContaining(['ciphertextSize']));
    });

    it('documents 429 with Retry-After on every operation', () => {
        const paths = document.paths as Record<string, Record<string, Schema>>;
        for (const operations of Object.values(paths)) {
            for (const operation of Object.values(operations)) {
                const tooMany = (operation.responses as Record<string, Schema>)['429'];
                expect(tooMany).toBeDefined();
                expect(tooMany.headers).toHaveProperty('Retry-After');
            }
        }
    });

    it('documents 415 on JSON operations and uploads, and the multipart upload', () => {
        const paths = document.paths as Record<string, Record<string, Schema>>;
        expect(paths['/api/v1/patients'].post.responses).toHaveProperty('415');
        const upload = paths['/api/v1/patients/{patientId}/records'].post;
        expect(upload.responses).toHaveProperty('415');
        expect(Object.keys((upload.requestBody as Schema).content as Schema)).toEqual(['multipart/form-data', '*/*']);
        expect(components.RecordVerification.properties).toHaveProperty('state');
    });
});
