import { parseArgs } from 'node:util';
import { z } from 'zod';
import { mintToken } from '../src/api/auth.js';
import { Role } from '../src/domain/principal.js';
import { devJwtSecret } from './lib/dev-secret.js';

const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'operator' },
    sub: { type: 'string' },
    ttl: { type: 'string', default: '12h' },
  },
});
const role = values.role as Role;
if (!Object.values(Role).includes(role)) {
  process.stderr.write(`--role must be one of ${Object.values(Role).join(', ')}\n`);
  process.exit(2);
}
// The API refuses customer tokens whose subject is not a customer id: do not mint one it would refuse.
if (role === 'customer' && !z.uuid().safeParse(values.sub).success) {
  process.stderr.write('a customer token needs --sub <customerId>, a UUID (e.g. --sub $(uuidgen))\n');
  process.exit(2);
}
process.stdout.write(`${await mintToken(devJwtSecret(), role, values.sub ?? `dev-${role}`, values.ttl)}\n`);
