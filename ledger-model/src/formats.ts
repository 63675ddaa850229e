// The formats of the ledger's identifiers and short texts. The chaincode
// enforces them; the gateways check the same ones first, so a bad value is a
// 400 at the door and never costs an endorsement.

export interface Format {
  pattern: RegExp;
  /** Completes "<field> must be ...", for error messages and the OpenAPI document. */
  description: string;
}

// A patient ID lives in its home hospital's namespace, `<home MSP ID>:<local ID>`
// (DESIGN §9: no hospital can capture another's patients). ':' never occurs in an
// MSP ID, so the namespace is unambiguous. IDs without one are read as patients
// registered before namespaces; no new one can be registered.
export const PATIENT_ID: Format = {
  pattern: /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,63}:)?[A-Za-z0-9._-]{3,64}$/,
  description: "<home hospital's MSP ID>:<3-64 characters of A-Z a-z 0-9 . _ ->",
};

/** The namespace of the patients whose home is mspId: their IDs start with it. */
export const patientNamespace = (mspId: string): string => `${mspId}:`;

/** Whether patientId lies in mspId's namespace, so that hospital may register it. */
export const inPatientNamespace = (patientId: string, mspId: string): boolean => patientId.startsWith(patientNamespace(mspId));

// Lowercase only: IDs are replay guards, and two spellings of one UUID must not both pass.
export const UUID: Format = {
  pattern: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  description: 'a lowercase UUID',
};

export const MSP_ID: Format = {
  pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
  description: 'an MSP ID (letters, digits, . _ -; at most 64)',
};

// Pseudonyms from the hospital's IdP (the JWT sub); '@' is excluded so e-mail
// addresses stay off the ledger.
export const ACTOR_ID: Format = {
  pattern: /^[A-Za-z0-9._:|-]{1,128}$/,
  description: '1-128 characters of A-Z a-z 0-9 . _ : | -',
};

export const HOSPITAL_NAME: Format = {
  pattern: /^[\p{L}\p{N} .,'&()-]{1,100}$/u,
  description: "1-100 letters, digits, spaces or .,'&()-",
};
