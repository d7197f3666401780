import type { DiseConfig } from '../../config/schema.js';
import { measureImmunity } from '../../judge/immunity.js';
import { Sandbox } from '../../sandbox/sandbox.js';
import { immunityLine } from '../../shared/immunity-types.js';
import { withDatabase, type Output } from '../context.js';

export interface ImmunityCommandOptions {
  maxMutants: number;
  pin: boolean;
  json: boolean;
}

/**
 * `dise immunity <tool>`: the routed version's (or the named version's) single-point mutants against
 * its suite; inputs that kill the survivors are pinned as tests, and the mutation score before and
 * after is printed and kept.
 */
export async function immunity(
  nameOrId: string,
  options: ImmunityCommandOptions,
  config: DiseConfig,
  out: Output,
): Promise<void> {
  await withDatabase(
    out,
    async ({ store }) => {
      const versionId = await store.routing.resolve(nameOrId);
      out.info(`${versionId}: making single-point mutants and running them against its suite…`);
      // The mutants are the version's own code with one token changed: they share its trust domain,
      // so in this process (which runs nothing else) they share one Python interpreter instead of
      // starting one each.
      const sandbox = new Sandbox({ ...config.sandbox, python_isolation: 'shared' });
      let report;
      try {
        report = await measureImmunity({ store, sandbox, config }, versionId, {
          maxMutants: options.maxMutants,
          pin: options.pin,
        });
      } finally {
        sandbox.close();
      }
      if (options.json) {
        out.result(JSON.stringify(report, null, 2));
        return;
      }
      out.result(
        `${versionId} mutation score: ${immunityLine({ ...report, pinned: report.pinned.length, at: new Date().toISOString() })}`,
      );
      for (const p of report.pinned)
        out.result(
          `  ${report.stored ? 'pinned' : 'would pin'} ${JSON.stringify(p.input)} → ${JSON.stringify(p.expected)} (kills ${p.kills.length}: ${p.kills.join('; ')})`,
        );
      if (report.undetected.length)
        out.result(
          `  not told apart from ${versionId} by any input tried (equivalent, or beyond the corpus): ${report.undetected.map((m) => m.id).join('; ')}`,
        );
      out.info(`done in ${(report.durationMs / 1000).toFixed(1)} s`);
    },
    config,
  );
}
