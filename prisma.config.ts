import { defineConfig } from 'prisma/config';

// The Prisma CLI is used only for `prisma generate` here: migrations are applied by our own
// migrator (src/infra/migrator.ts). The URL is read lazily so generate works with none set.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/dise' },
});
