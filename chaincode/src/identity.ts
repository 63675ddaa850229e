// Who is calling: the org (MSP) from the certificate and the role from the Fabric
// CA attribute ehr.role. The person behind a gateway call comes as an actor argument.
import type { Context } from 'fabric-contract-api';
import { forbidden } from './errors';
import { IDENTITY_ROLES, type IdentityRole } from '@ehr/ledger-model';

export interface Caller {
  mspId: string;
  role: IdentityRole | null;
}

export function caller(ctx: Context): Caller {
  const attr = ctx.clientIdentity.getAttributeValue('ehr.role');
  const role = IDENTITY_ROLES.find((r) => r === attr) ?? null;
  return { mspId: ctx.clientIdentity.getMSPID(), role };
}

export function requireRole(ctx: Context, ...roles: IdentityRole[]): Caller {
  const c = caller(ctx);
  if (c.role === null || !roles.includes(c.role)) {
    throw forbidden(`this transaction needs an identity with ehr.role ${roles.join(' or ')}`);
  }
  return c;
}
