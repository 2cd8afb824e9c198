import { defineConfig } from 'prisma/config';

// The CLI is used for `prisma generate` only; migrations are SQL files applied by dbmate (scripts/provision.ts).
export default defineConfig({
  schema: 'prisma/schema.prisma',
});
