import { readManifestFile } from '../../lineage/manifest.js';
import type { RegisterVersionInput, RegisteredVersion } from '../../lineage/store.js';
import { compareSemver, parseVersionId } from '../../shared/ids.js';
import { ROUTABLE_HEALTH } from '../../shared/lineage-types.js';
import { withDatabase, type Output } from '../context.js';
import { UsageError } from '../errors.js';

export interface ToolAddOptions {
  route: boolean;
  json: boolean;
}

export interface ToolAddResult {
  registered: (RegisteredVersion & { file: string; routed: boolean })[];
}

/**
 * `dise tool add <file>...`: every manifest of every file is registered in one transaction (all or
 * nothing). The newest passing version of each tool becomes its route unless --no-route.
 */
export async function toolAdd(files: string[], options: ToolAddOptions, out: Output): Promise<ToolAddResult> {
  if (!files.length) throw new UsageError('tool add: name at least one manifest file');
  const inputs: { file: string; input: RegisterVersionInput }[] = [];
  for (const file of files) for (const input of readManifestFile(file)) inputs.push({ file, input });

  return withDatabase(out, async ({ store, prisma }) => {
    const registered = await store.registerMany(inputs.map((i) => i.input));
    const routed = new Set<string>();
    if (options.route) {
      const newest = new Map<string, RegisteredVersion>();
      for (const r of registered) {
        if (!ROUTABLE_HEALTH.includes(r.health)) continue;
        const current = newest.get(r.name);
        if (!current || compareSemver(parseVersionId(r.id), parseVersionId(current.id)) > 0) newest.set(r.name, r);
      }
      for (const r of newest.values()) {
        // Only move a route forward: a newer routed version already in place wins.
        const existing = await prisma.route.findUnique({ where: { toolName: r.name } });
        if (existing && compareSemver(parseVersionId(existing.versionId), parseVersionId(r.id)) > 0) continue;
        await store.setRoute(r.id, 'registered by dise tool add');
        routed.add(r.id);
      }
    }
    const result: ToolAddResult = {
      registered: registered.map((r, i) => ({ ...r, file: inputs[i]!.file, routed: routed.has(r.id) })),
    };
    if (options.json) {
      out.result(JSON.stringify(result, null, 2));
    } else {
      for (const r of result.registered) {
        out.result(`${r.id} ${r.health}${r.routed ? ' (routed)' : ''}`);
      }
    }
    return result;
  });
}
