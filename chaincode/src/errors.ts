// The gateway maps these codes to HTTP statuses (400, 403, 404, 409, 410); the codes
// and the message format live in @ehr/ledger-model, which the gateway parses with.
import { codedError, type ErrorCode } from '@ehr/ledger-model';

export type { ErrorCode };

export class ChaincodeError extends Error {
  constructor(
    readonly code: ErrorCode,
    detail: string,
  ) {
    super(codedError(code, detail));
    this.name = 'ChaincodeError';
  }
}

export const invalid = (detail: string) => new ChaincodeError('INVALID_ARGUMENT', detail);
export const forbidden = (detail: string) => new ChaincodeError('FORBIDDEN', detail);
export const notFound = (detail: string) => new ChaincodeError('NOT_FOUND', detail);
export const conflict = (detail: string) => new ChaincodeError('CONFLICT', detail);
export const gone = (detail: string) => new ChaincodeError('GONE', detail);
