import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../infra/paths.js';
import type { DiseConfig } from '../../config/schema.js';
import { withDatabase, type Output } from '../context.js';
import { UsageError } from '../errors.js';

/** `dise rules`: avoidance rules, their scope, source, and how many versions each affects; imported ones with their quarantine. */
export async function rules(options: { json: boolean }, config: DiseConfig, out: Output): Promise<void> {
  await withDatabase(
    out,
    async ({ store }) => {
      const rows = await store.rules.list();
      const imported = await store.shared.listImported();
      if (options.json) {
        out.result(JSON.stringify([...rows, ...imported], null, 2));
        return;
      }
      if (!rows.length && !imported.length) {
        out.result('Active Avoidance Rules: none');
        return;
      }
      out.result('Active Avoidance Rules:');
      rows.forEach((r, i) => {
        out.result(`  ${i + 1}. ${r.ruleId} [${r.scope.toUpperCase()}]${r.withdrawnAt ? ' WITHDRAWN' : ''}`);
        out.result(`     ${r.description}`);
        out.result(`     Pattern (${r.patternKind}): ${r.pattern}`);
        out.result(`     Source: ${r.source}`);
        out.result(`     Affects: ${r.scope === 'global' ? 'ALL tools' : `${r.affects} version(s)`}`);
      });
      imported.forEach((r, i) => {
        const state = r.withdrawn
          ? 'WITHDRAWN'
          : r.mode === 'enforcing'
            ? 'ENFORCING'
            : r.mode === 'advice'
              ? 'ADVICE'
              : 'REPORT-ONLY';
        out.result(`  ${rows.length + i + 1}. ${r.ruleId} [IMPORTED, ${state}]`);
        out.result(`     ${r.description}`);
        if (r.mode === 'advice')
          out.result(`     Semantic (${r.language}): no pattern; given to the LLM that regenerates a tool in scope`);
        else out.result(`     Pattern (${r.patternKind}, ${r.language}): ${r.pattern}`);
        out.result(
          `     Source: ${r.provenance.tool} at installation ${r.provenance.installation} (${r.provenance.source})`,
        );
        if (r.mode !== 'advice')
          out.result(
            `     Quarantine: ${r.cleanRegistrations} clean registration(s), ${r.reportedMatches} match(es) reported`,
          );
      });
    },
    config,
  );
}

/** `dise rules key`: this installation's public key and id, to give to peers for `dise rules trust`. */
export async function rulesKey(out: Output): Promise<void> {
  const { installationIdentity } = await import('../../rules/keys.js');
  const id = installationIdentity();
  out.result(`installation=${id.installationId} key=${id.keyId}`);
  out.result(id.publicKey);
}

/** `dise rules export`: this installation's signed pack on stdout. */
export async function rulesExport(
  options: { since?: string; tool?: string },
  config: DiseConfig,
  out: Output,
): Promise<void> {
  const since = options.since ? new Date(options.since) : undefined;
  if (since && Number.isNaN(since.getTime()))
    throw new UsageError(`--since takes a date or time, not "${options.since}"`);
  const [{ installationIdentity }, { buildPack }] = await Promise.all([
    import('../../rules/keys.js'),
    import('../../rules/pack.js'),
  ]);
  const identity = installationIdentity();
  await withDatabase(
    out,
    async ({ store }) => {
      const docs = await store.shared.exportDocuments({ since, tool: options.tool }, identity.installationId);
      out.result(JSON.stringify(buildPack(docs, identity), null, 2));
      out.info(`exported ${docs.length} rule(s), signed by key ${identity.keyId}`);
    },
    config,
  );
}

/** `dise rules import <pack>`: verified, self-checked, stored report-only (a semantic rule as advice). */
export async function rulesImport(file: string, config: DiseConfig, out: Output): Promise<void> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file === '-' ? 0 : file, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read the pack ${file}: ${(err as Error).message}`);
  }
  const { importPack } = await import('../../rules/import.js');
  await withDatabase(
    out,
    async ({ store }) => {
      const s = await importPack(store.shared, raw, file);
      out.result(
        `imported ${s.imported.length - s.advice.length} (report-only)${s.advice.length ? `, ${s.advice.length} as advice (semantic: never gates)` : ''}, updated ${s.updated.length}, withdrawn ${s.withdrawn.length}, unchanged ${s.unchanged.length}, duplicates ${s.duplicates.length}`,
      );
      for (const d of s.duplicates) out.info(`  ${d.id}: same pattern as ${d.sameAs}, skipped`);
    },
    config,
  );
}

/** `dise rules trust <key>`: accept packs signed by this public key. */
export async function rulesTrust(key: string, config: DiseConfig, out: Output): Promise<void> {
  await withDatabase(
    out,
    async ({ store }) => {
      let keyId: string;
      try {
        keyId = await store.shared.trust(key);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      out.result(`trusted key ${keyId}`);
    },
    config,
  );
}

/** `dise rules promote <id>`: an imported rule enforces now, on an operator's word. */
export async function rulesPromote(ruleId: string, config: DiseConfig, out: Output): Promise<void> {
  await withDatabase(
    out,
    async ({ store }) => {
      const mode = await store.shared.promote(ruleId);
      if (!mode) throw new UsageError(`no imported rule ${ruleId}`);
      if (mode === 'advice')
        throw new UsageError(`${ruleId} is a semantic rule (advice for the LLM, no pattern): it never gates`);
      out.result(`${ruleId} enforces`);
    },
    config,
  );
}

/** `dise rules withdraw <id>`: the rule stops gating; a local rule's withdrawal travels in the next pack. */
export async function rulesWithdraw(ruleId: string, config: DiseConfig, out: Output): Promise<void> {
  await withDatabase(
    out,
    async ({ store }) => {
      const which = await store.shared.withdraw(ruleId);
      if (!which) throw new UsageError(`no rule ${ruleId}`);
      out.result(`${ruleId} withdrawn (${which}): it no longer gates`);
    },
    config,
  );
}

/** `dise rules check <files...> --sarif`: the learned rules' matches in ordinary source files. */
export async function rulesCheck(
  files: string[],
  options: { sarif: boolean },
  config: DiseConfig,
  out: Output,
  exitCode: { value: number },
): Promise<void> {
  const { languageOf, sarifLog } = await import('../../rules/sarif.js');
  const checked = files.map((f) => {
    const language = languageOf(f);
    if (!language)
      throw new UsageError(`${f}: only JavaScript (.js, .mjs, .cjs) and Python (.py) files can be checked`);
    let code: string;
    try {
      code = readFileSync(f, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read ${f}: ${(err as Error).message}`);
    }
    return { uri: f.split(path.sep).join('/'), language, code };
  });
  await withDatabase(
    out,
    async ({ store }) => {
      const log = sarifLog(await store.shared.checkRules(), checked, packageVersion()) as {
        runs: {
          results: {
            ruleId: string;
            level: string;
            locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } } }[];
            message: { text: string };
          }[];
        }[];
      };
      const results = log.runs[0]!.results;
      if (options.sarif) out.result(JSON.stringify(log, null, 2));
      else
        for (const r of results) {
          const at = r.locations[0]!.physicalLocation;
          out.result(`${at.artifactLocation.uri}:${at.region.startLine}: ${r.level} ${r.ruleId} ${r.message.text}`);
        }
      out.info(`${results.length} match(es) in ${checked.length} file(s)`);
      if (results.some((r) => r.level === 'error')) exitCode.value = 1;
    },
    config,
  );
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * `dise rules subscribe <url>`: a Temporal schedule that pulls a peer's pack every `every` and
 * imports it (report-only, deduped by pattern); the first pull runs now. Subscribing again to the
 * same URL updates the interval.
 */
export async function rulesSubscribe(
  url: string,
  options: { every: string },
  config: DiseConfig,
  out: Output,
): Promise<void> {
  const packUrl = packUrlOf(url);
  const [
    { connectTemporal },
    { taskQueueFromEnv },
    { ScheduleAlreadyRunning, ScheduleOverlapPolicy },
    { subscriptionScheduleId },
  ] = await Promise.all([
    import('../temporal-client.js'),
    import('../../infra/temporal-connection.js'),
    import('@temporalio/client'),
    import('../../shared/rule-subscription.js'),
  ]);
  const temporal = await connectTemporal(config);
  try {
    const scheduleId = subscriptionScheduleId(packUrl);
    const spec = { intervals: [{ every: options.every as `${number}${'s' | 'm' | 'h' | 'd'}` }] };
    let handle;
    try {
      handle = await temporal.client.schedule.create({
        scheduleId,
        spec,
        action: {
          type: 'startWorkflow',
          workflowType: 'ruleSubscriptionWorkflow',
          args: [{ url: packUrl }],
          taskQueue: taskQueueFromEnv(),
        },
        policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
        memo: { subscription: packUrl },
      });
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      handle = temporal.client.schedule.getHandle(scheduleId);
      await handle.update((previous) => ({ ...previous, spec }));
    }
    await handle.trigger();
    out.result(
      `subscribed to ${packUrl}: Temporal schedule ${scheduleId}, every ${options.every} (first pull started)`,
    );
  } finally {
    await temporal.close();
  }
}

/** `dise rules unsubscribe <url>`: deletes the subscription's schedule; imported rules stay. */
export async function rulesUnsubscribe(url: string, config: DiseConfig, out: Output): Promise<void> {
  const packUrl = packUrlOf(url);
  const [{ connectTemporal }, { subscriptionScheduleId }] = await Promise.all([
    import('../temporal-client.js'),
    import('../../shared/rule-subscription.js'),
  ]);
  const temporal = await connectTemporal(config);
  try {
    const scheduleId = subscriptionScheduleId(packUrl);
    try {
      await temporal.client.schedule.getHandle(scheduleId).delete();
    } catch (err) {
      if ((err as Error).name === 'ScheduleNotFoundError') throw new UsageError(`no subscription to ${packUrl}`);
      throw err;
    }
    out.result(`unsubscribed from ${packUrl}: schedule ${scheduleId} deleted (imported rules stay)`);
  } finally {
    await temporal.close();
  }
}

/** A peer's dashboard URL, or its pack's: a bare dashboard URL gets `/rules/pack`. */
function packUrlOf(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`not a URL: ${url}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`not an http(s) URL: ${url}`);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/rules/pack';
  return u.toString();
}
