// The gateway maps these prefixes to HTTP statuses (400, 403, 404, 409, 410),
// so the prefix is part of the API and must never change.
export type ErrorCode = 'INVALID_ARGUMENT' | 'FORBIDDEN' | 'NOT_FOUND' | 'CONFLICT' | 'GONE';

export class ChaincodeError extends Error {
  constructor(
    readonly code: ErrorCode,
    detail: string,
  ) {
    super(`${code}: ${detail}`);
    this.name = 'ChaincodeError';
  }
}

export const invalid = (detail: string) => new ChaincodeError('INVALID_ARGUMENT', detail);
export const forbidden = (detail: string) => new ChaincodeError('FORBIDDEN', detail);
export const notFound = (detail: string) => new ChaincodeError('NOT_FOUND', detail);
export const conflict = (detail: string) => new ChaincodeError('CONFLICT', detail);
export const gone = (detail: string) => new ChaincodeError('GONE', detail);
