import { status as grpcStatus, Metadata } from '@grpc/grpc-js';
import { CommitError, EndorseError, GatewayError } from '@hyperledger/fabric-gateway';
import { TransactionConflictError, TransactionInvalidError } from '../fabric/errors.js';
import { DependencyUnavailableError } from '../ports.js';
import { Conflict, Forbidden, Gone, Invalid, NotFound, TooLarge, Unavailable } from '../domain-errors.js';
import { chaincodeMessage, problemFromDependencyError, problemFromDomainError } from './dependency-errors.js';
import { ServiceUnavailableError } from './problem.js';

function serviceError(code: number) {
    return Object.assign(new Error('grpc'), { code, details: 'x', metadata: new Metadata() });
}

function endorseError(peerMessage: string, code = grpcStatus.ABORTED) {
    return new EndorseError({
        code,
        details: [{ address: 'peer0.hospital2:7051', mspId: 'Hospital2MSP', message: peerMessage }],
        cause: serviceError(code),
        transactionId: 'tx-1',
        message: '10 ABORTED: failed to endorse transaction, see attached details for more info',
    });
}

describe('problemFromDependencyError', () => {
    it.each([
        ['INVALID_ARGUMENT: purposes must not be empty', 400],
        ['FORBIDDEN: no active consent', 403],
        ['NOT_FOUND: record r1', 404],
        ['CONFLICT: patient exists', 409],
        ['GONE: record erased', 410],
    ])('maps the chaincode message "%s" in endorsement details to %i', (message, status) => {
        const problem = problemFromDependencyError(endorseError(`chaincode response 500, ${message}`), 5);
        expect(problem?.status).toBe(status);
        expect(problem?.detail).toBe(message.slice(message.indexOf(':') + 2));
        expect(problem?.cause).toBeInstanceOf(EndorseError);
    });

    it('finds a coded message in a plain error or its cause', () => {
        expect(chaincodeMessage(new Error('wrapped', { cause: new Error('NOT_FOUND: x') }))).toEqual({ code: 'NOT_FOUND', detail: 'x' });
        expect(problemFromDependencyError(new Error('CONFLICT: dup'), 5)?.status).toBe(409);
    });

    it.each([grpcStatus.UNAVAILABLE, grpcStatus.DEADLINE_EXCEEDED])('maps gRPC code %i to 503 with Retry-After', (code) => {
        const err = new GatewayError({ code, details: [], cause: serviceError(code), message: 'down' });
        const problem = problemFromDependencyError(err, 7);
        expect(problem).toBeInstanceOf(ServiceUnavailableError);
        expect(problem?.headers['Retry-After']).toBe('7');
        expect(problem?.extensions.dependency).toBe('fabric');
    });

    it('maps IPFS connection failures and explicit unavailability to 503', () => {
        const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
        expect(problemFromDependencyError(new Error('adding failed', { cause: refused }), 5)?.status).toBe(503);
        expect(problemFromDependencyError(new DependencyUnavailableError('cluster', 'no answer'), 5)?.extensions.dependency).toBe('cluster');
    });

    it('leaves unknown errors alone', () => {
        expect(problemFromDependencyError(new Error('boom'), 5)).toBeUndefined();
        expect(problemFromDependencyError(new GatewayError({ code: grpcStatus.INTERNAL, details: [], cause: serviceError(13), message: 'x' }), 5)).toBeUndefined();
    });

    it('answers 503 for an endorsement that failed without a chaincode reason (an endorser down): retrying may succeed', () => {
        expect(problemFromDependencyError(endorseError('connection refused', grpcStatus.ABORTED), 5)?.status).toBe(503);
    });

    it('answers 503 with Retry-After, never 500, for a read conflict', () => {
        const conflict = new TransactionConflictError('tx-9', 11);
        const problem = problemFromDependencyError(conflict, 3);
        expect(problem).toBeInstanceOf(ServiceUnavailableError);
        expect(problem?.headers['Retry-After']).toBe('3');
        expect(problem?.extensions).toMatchObject({ dependency: 'fabric', txId: 'tx-9' });
        expect(problemFromDependencyError(new CommitError({ code: 11, transactionId: 'tx-9' }), 3)?.status).toBe(503);
    });

    it('answers 500 for an invalid commit a retry does not cure', () => {
        expect(problemFromDependencyError(new TransactionInvalidError('tx-9', 10), 3)).toBeUndefined();
    });
});

describe('problemFromDomainError', () => {
    test.each([
        [new Invalid('bad', [{ field: 'query.x', message: 'no' }]), 400, 'urn:ehr:problem:invalid-request', 'Invalid request'],
        [new Forbidden('no'), 403, 'urn:ehr:problem:forbidden', 'Forbidden'],
        [new NotFound('none'), 404, 'urn:ehr:problem:not-found', 'Not found'],
        [new Conflict('twice'), 409, 'urn:ehr:problem:conflict', 'Conflict'],
        [new Gone('erased'), 410, 'urn:ehr:problem:gone', 'Gone'],
        [new TooLarge(10), 413, 'urn:ehr:problem:payload-too-large', 'Payload too large'],
        [new Unavailable('later', 7, { extensions: { dependency: 'ipfs' } }), 503, 'urn:ehr:problem:service-unavailable', 'Service unavailable'],
    ])('%s answers %i with its type, title and detail', (err, status, type, title) => {
        const problem = problemFromDomainError(err);
        expect({ status: problem.status, type: problem.type, title: problem.title, detail: problem.detail }).toEqual({ status, type, title, detail: err.message });
    });

    test('extensions, headers, rule and the cause carry over', () => {
        const ledger = new Error('FORBIDDEN: no consent');
        const forbidden = problemFromDomainError(new Forbidden('explained', { cause: ledger, extensions: { allowedPurposes: [] } }));
        expect(forbidden.cause).toBe(ledger);
        expect(forbidden.extensions).toEqual({ allowedPurposes: [] });
        expect(problemFromDomainError(new NotFound('x', { rule: 'home' })).rule).toBe('home');
        expect(problemFromDomainError(new Unavailable('later', 7)).headers).toEqual({ 'Retry-After': '7' });
        expect(problemFromDomainError(new Invalid('bad', [{ field: 'f', message: 'm' }])).extensions).toEqual({ errors: [{ field: 'f', message: 'm' }] });
        expect(problemFromDomainError(new Forbidden('plain')).extensions).toEqual({});
    });
});
