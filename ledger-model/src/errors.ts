// The chaincode refuses with a coded message, `<CODE>: <detail>`, and the gateways map
// the code to an HTTP status (400, 403, 404, 409, 410). The prefix format is part of the
// contract between them and must never change: both sides use these two functions.

export const ERROR_CODES = ['INVALID_ARGUMENT', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'GONE'] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface CodedError {
  code: ErrorCode;
  detail: string;
}

/** The message the chaincode refuses with: `<CODE>: <detail>`. */
export const codedError = (code: ErrorCode, detail: string): string => `${code}: ${detail}`;

export const isErrorCode = (value: unknown): value is ErrorCode => (ERROR_CODES as readonly unknown[]).includes(value);

// Anywhere in the text: Fabric wraps the chaincode's message ("chaincode response 500, FORBIDDEN: ...").
const CODED = new RegExp(`\\b(${ERROR_CODES.join('|')}): ?(.*)$`, 's');

/** The code and detail of a coded message, wherever in `message` it starts; undefined when there is none. */
export function parseCodedError(message: string): CodedError | undefined {
  const match = CODED.exec(message);
  if (!match) return undefined;
  return { code: match[1] as ErrorCode, detail: match[2].trim() };
}
