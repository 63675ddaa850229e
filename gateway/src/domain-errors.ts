/*
 * What the gateway's services throw when a request cannot be served, in the domain's own
 * terms: no HTTP here. Only gateway/src/http/ maps these to problem+json (status, type,
 * title); the detail is the error's message, the cause is kept for the logs and for
 * telling which rule denied.
 *
 * `classifyDependencyError` tells what a ledger or blob-store failure means for the
 * request, so services and the HTTP layer judge it the same way.
 */
import type { CodedError } from '@ehr/ledger-model';
import { causeChain, classifyFabricError, codedMessage, TransactionConflictError } from './fabric/errors.js';
import { DependencyUnavailableError } from './ports.js';

/** A field that failed validation: `body.purposes[0]`, `query.category`, ... */
export interface FieldIssue {
    field: string;
    message: string;
}

export interface DomainErrorOptions extends ErrorOptions {
    /** For a denial: the short ID of the rule that denied it (for the denial log and metrics). */
    rule?: string;
    /** Facts a client can act on (e.g. the purposes a consent allows), shown with the error. */
    extensions?: Record<string, unknown>;
}

export abstract class DomainError extends Error {
    readonly rule: string | undefined;
    readonly extensions: Record<string, unknown>;

    constructor(detail: string, options: DomainErrorOptions = {}) {
        super(detail, options);
        this.rule = options.rule;
        this.extensions = options.extensions ?? {};
    }

    get detail(): string {
        return this.message;
    }
}

/** The request is malformed or breaks a rule about its own content. */
export class Invalid extends DomainError {
    readonly errors: readonly FieldIssue[];

    constructor(detail: string, errors: readonly FieldIssue[] = [], options: ErrorOptions = {}) {
        super(detail, options);
        this.name = 'Invalid';
        this.errors = errors;
    }
}

/** The caller may not do this. */
export class Forbidden extends DomainError {
    constructor(detail: string, options: DomainErrorOptions = {}) {
        super(detail, options);
        this.name = 'Forbidden';
    }
}

/** Unknown, or not this caller's to know about (need-to-know answers the same). */
export class NotFound extends DomainError {
    constructor(detail: string, options: DomainErrorOptions = {}) {
        super(detail, options);
        this.name = 'NotFound';
    }
}

/** Clashes with the current state (exists already, decided already). */
export class Conflict extends DomainError {
    constructor(detail: string, options: ErrorOptions = {}) {
        super(detail, options);
        this.name = 'Conflict';
    }
}

/** Was there, and is erased. */
export class Gone extends DomainError {
    constructor(detail: string, options: ErrorOptions = {}) {
        super(detail, options);
        this.name = 'Gone';
    }
}

/** More bytes than the configured limit. */
export class TooLarge extends DomainError {
    readonly limitBytes: number;

    /** `detail` says which limit when it is not the body's bytes (e.g. samples per request). */
    constructor(limitBytes: number, { detail, ...options }: ErrorOptions & { detail?: string } = {}) {
        super(detail ?? `request body exceeds the limit of ${limitBytes} bytes`, options);
        this.name = 'TooLarge';
        this.limitBytes = limitBytes;
    }
}

/** Cannot be served now, may be later: retry after retryAfterSeconds. */
export class Unavailable extends DomainError {
    readonly retryAfterSeconds: number;

    constructor(detail: string, retryAfterSeconds: number, options: DomainErrorOptions = {}) {
        super(detail, options);
        this.name = 'Unavailable';
        this.retryAfterSeconds = retryAfterSeconds;
    }
}

const NETWORK_ERROR_CODES = new Set([
    'ECONNREFUSED',
    'ECONNRESET',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'ENOTFOUND',
    'ETIMEDOUT',
    'EPIPE',
    'EAI_AGAIN',
    'UND_ERR_CONNECT_TIMEOUT',
    'UND_ERR_SOCKET',
    'UND_ERR_HEADERS_TIMEOUT',
]);

export type DependencyFailure =
    /** The chaincode refused, with its code: final. */
    | ({ kind: 'refused' } & CodedError)
    /** Concurrent writes to the same data outlasted the gateway's retries; the client's retry is safe. */
    | { kind: 'busy'; txId: string }
    /** A dependency (`fabric`, `ipfs`, `kubo`, `cluster`) is down or slow. */
    | { kind: 'unavailable'; dependency: string };

/** What a failure of the ledger or the blob store means, or undefined when it is none we know. */
export function classifyDependencyError(err: unknown): DependencyFailure | undefined {
    const coded = codedMessage(err);
    if (coded) return { kind: 'refused', ...coded };
    for (const e of causeChain(err)) if (e instanceof TransactionConflictError) return { kind: 'busy', txId: e.txId };
    const dependency = unavailableDependency(err);
    return dependency ? { kind: 'unavailable', dependency } : undefined;
}

function unavailableDependency(err: unknown): string | undefined {
    for (const e of causeChain(err)) {
        if (e instanceof DependencyUnavailableError) return e.dependency;
        // A fabric-gateway error that reached here untranslated (fabric/errors.ts).
        const fabric = classifyFabricError(e);
        if (fabric.kind === 'unavailable' || fabric.kind === 'conflict') return 'fabric';
        const code = (e as { code?: unknown } | null)?.code;
        if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return 'ipfs';
        const name = (e as { name?: unknown } | null)?.name;
        if (name === 'TimeoutError') return 'ipfs';
    }
    return undefined;
}
