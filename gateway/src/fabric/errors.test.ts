import { status as grpcStatus, Metadata } from '@grpc/grpc-js';
import { CommitError, CommitStatusError, EndorseError, GatewayError } from '@hyperledger/fabric-gateway';
import { problemFromDependencyError } from '../http/dependency-errors.js';
import {
    ChaincodeRejectedError,
    classifyFabricError,
    FabricUnavailableError,
    TransactionConflictError,
    TransactionInvalidError,
    TransactionOutcomeUnknownError,
    translateFabricError,
} from './errors.js';

function serviceError(code: number) {
    return Object.assign(new Error(`${code} grpc`), { code, details: 'x', metadata: new Metadata() });
}
const detail = (message: string) => [{ address: 'peer0.hospital2:7051', mspId: 'Hospital2MSP', message }];

const endorseError = (code: number, message = 'failed to endorse') =>
    new EndorseError({ code, details: detail(message), cause: serviceError(code), transactionId: 'tx-1', message: `${code} ${message}` });
/** fabric-gateway exports SubmitError as a type only; its instances are GatewayErrors named so. */
const submitError = (code: number, message = 'no orderers could successfully process transaction') =>
    Object.assign(new GatewayError({ code, details: detail(message), cause: serviceError(code), message }), { name: 'SubmitError' });
const commitStatusError = (code: number) =>
    new CommitStatusError({ code, details: [], cause: serviceError(code), transactionId: 'tx-1', message: 'commit status' });
const evaluateError = (code: number) => new GatewayError({ code, details: [], cause: serviceError(code), message: 'evaluate' });
const commitError = (code: number) => new CommitError({ code: code as CommitError['code'], transactionId: 'tx-1', message: 'commit' });

/** Each failure class, the typed error it becomes, and the HTTP status the client sees (undefined: 500). */
const cases: [string, unknown, (new (...args: never[]) => Error) | undefined, number | undefined][] = [
    ['a chaincode refusal in the endorsement details', endorseError(grpcStatus.ABORTED, 'chaincode response 500, FORBIDDEN: no consent'), ChaincodeRejectedError, 403],
    ['a chaincode CONFLICT', endorseError(grpcStatus.ABORTED, 'chaincode response 500, CONFLICT: record r exists'), ChaincodeRejectedError, 409],
    ['an endorsement that failed for no chaincode reason (an endorser down)', endorseError(grpcStatus.ABORTED, 'connection refused'), FabricUnavailableError, 503],
    ['an endorser that did not answer in time', endorseError(grpcStatus.DEADLINE_EXCEEDED), FabricUnavailableError, 503],
    ['no endorsing peer reachable', endorseError(grpcStatus.UNAVAILABLE), FabricUnavailableError, 503],
    ['no orderer accepting (no Raft leader, orderer down)', submitError(grpcStatus.UNAVAILABLE), FabricUnavailableError, 503],
    ['an orderer refusing the envelope (4xx)', submitError(grpcStatus.ABORTED, 'status=BAD_REQUEST'), undefined, undefined],
    [
        'an orderer that has not joined the channel yet (a hospital joining)',
        submitError(grpcStatus.ABORTED, 'received unsuccessful response from orderer: status=BAD_REQUEST, info=channel does not exist'),
        FabricUnavailableError,
        503,
    ],
    ['a commit wait that ran out', commitStatusError(grpcStatus.DEADLINE_EXCEEDED), FabricUnavailableError, 503],
    ['a commit status call cancelled by the peer', commitStatusError(grpcStatus.CANCELLED), FabricUnavailableError, 503],
    ['an own peer that does not answer a query', evaluateError(grpcStatus.UNAVAILABLE), FabricUnavailableError, 503],
    ['a plain gRPC UNAVAILABLE', serviceError(grpcStatus.UNAVAILABLE), FabricUnavailableError, 503],
    ['an MVCC read conflict at commit', commitError(11), TransactionConflictError, 503],
    ['a phantom read conflict at commit', commitError(12), TransactionConflictError, 503],
    ['an endorsement policy failure at commit', commitError(10), TransactionInvalidError, undefined],
];

describe('translateFabricError', () => {
    it.each(cases)('%s', (_what, err, type, status) => {
        const translated = translateFabricError(err);
        if (type) {
            expect(translated).toBeInstanceOf(type);
            expect((translated as Error).cause).toBe(err);
        } else {
            expect(translated).toBe(err);
        }
        const problem = problemFromDependencyError(translated, 5);
        expect(problem?.status).toBe(status);
        if (status === 503) {
            expect(problem?.headers['Retry-After']).toBe('5');
            expect(problem?.extensions.dependency).toBe('fabric');
        }
    });

    it('keeps the chaincode code and detail', () => {
        const translated = translateFabricError(endorseError(grpcStatus.ABORTED, 'chaincode response 500, GONE: record r erased'));
        expect(translated).toMatchObject({ code: 'GONE', detail: 'record r erased', message: 'GONE: record r erased' });
    });

    it('leaves errors that are not Fabric failures alone, and typed errors as they are', () => {
        const plain = new Error('boom');
        expect(translateFabricError(plain)).toBe(plain);
        const unknown = new TransactionOutcomeUnknownError(['tx-1']);
        expect(translateFabricError(unknown)).toBe(unknown);
        expect(problemFromDependencyError(unknown, 5)?.status).toBe(503);
    });

    it('classifies for the retry logic: refusals and invalid commits are final, the rest is retried', () => {
        expect(classifyFabricError(endorseError(grpcStatus.ABORTED, 'FORBIDDEN: x')).kind).toBe('rejected');
        expect(classifyFabricError(submitError(grpcStatus.UNAVAILABLE))).toEqual({ kind: 'unavailable', step: 'submit', grpcCode: 14 });
        expect(classifyFabricError(commitStatusError(grpcStatus.DEADLINE_EXCEEDED))).toEqual({ kind: 'unavailable', step: 'commit-status', grpcCode: 4 });
        expect(classifyFabricError(commitError(11))).toEqual({ kind: 'conflict', txId: 'tx-1', validationCode: 11 });
        expect(classifyFabricError(new TransactionConflictError('tx-2', 12))).toEqual({ kind: 'conflict', txId: 'tx-2', validationCode: 12 });
        expect(classifyFabricError(commitError(10)).kind).toBe('invalid');
        expect(classifyFabricError(new Error('boom')).kind).toBe('unknown');
    });
});
