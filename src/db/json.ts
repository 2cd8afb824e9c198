import type { Prisma } from '../generated/prisma/client.js';

/** Domain objects (interfaces without index signatures) as Prisma JSON column input. */
export function toJson(value: object): Prisma.InputJsonObject {
  return JSON.parse(JSON.stringify(value)) as Prisma.InputJsonObject;
}
