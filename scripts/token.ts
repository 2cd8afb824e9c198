import { parseArgs } from 'node:util';
import { mintToken, Role } from '../src/api/auth.js';
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
if (role === 'customer' && !values.sub) {
  process.stderr.write('a customer token needs --sub <customerId> (a UUID)\n');
  process.exit(2);
}
process.stdout.write(`${await mintToken(devJwtSecret(), role, values.sub ?? `dev-${role}`, values.ttl)}\n`);
