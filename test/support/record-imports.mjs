// Preloaded with `node --import` by tests: records every module specifier the process resolves, one
// per line, in the file named by DISE_RECORD_IMPORTS (which modules a command loads).
import { register } from 'node:module';

const hooks = `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(process.env.DISE_RECORD_IMPORTS, resolved.url + '\\n');
  return resolved;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`, import.meta.url);
