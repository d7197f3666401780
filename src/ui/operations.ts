import type { Client } from '@temporalio/client';
import { askMonitorStatus, type MonitorReachability } from '../client/monitor-client.js';
import { startHeal } from '../client/start-heal.js';
import { connectTemporalClient, type TemporalHandle } from '../client/connection.js';
import type { TemporalSettings } from '../infra/temporal-connection.js';
import { canaryWorkflowId, HEALTH_MONITOR_WORKFLOW_ID, healWorkflowId } from '../shared/constants.js';
import type { HealProgress } from '../shared/heal-types.js';
import {
  canaryAbortSignal,
  canaryPromoteSignal,
  healProgressQuery,
  pauseSignal,
  resumeSignal,
} from '../shared/messages.js';
import type { selfHealWorkflow } from '../workflows/self-heal.js';

/** Why an action could not be done, as the operator should read it (HTTP 409). */
export class ActionRefused extends Error {}

/**
 * What the dashboard asks of Temporal — the heal and monitor operations of `dise heal`,
 * `dise heal-cancel`, `dise heal-retry` and the monitor's signals — over one lazily opened client.
 */
export class TemporalOperations {
  private handle: Promise<TemporalHandle> | null = null;

  constructor(
    private readonly settings: TemporalSettings | null,
    private readonly taskQueue: string,
    /** Base URL of the Temporal UI, when known (the dev server's). */
    readonly uiUrl: string | null,
  ) {}

  get namespace(): string {
    return this.settings?.namespace ?? 'default';
  }

  private async client(): Promise<Client> {
    if (!this.settings) throw new ActionRefused('no Temporal server configured');
    this.handle ??= connectTemporalClient(this.settings, { connectTimeoutMs: 5000 }).catch((err: Error) => {
      this.handle = null;
      throw err;
    });
    return (await this.handle).client;
  }

  /** Link to a heal's workflow in the Temporal UI. */
  workflowLink(workflowId: string): string | null {
    return this.uiUrl
      ? `${this.uiUrl}/namespaces/${encodeURIComponent(this.namespace)}/workflows/${encodeURIComponent(workflowId)}`
      : null;
  }

  /** Link to the Temporal UI's workflow list, filtered by the DiseTool search attribute. */
  toolHealsLink(toolName: string): string | null {
    return this.uiUrl
      ? `${this.uiUrl}/namespaces/${encodeURIComponent(this.namespace)}/workflows?query=${encodeURIComponent(`DiseTool="${toolName}"`)}`
      : null;
  }

  async startHeal(
    versionId: string,
    reason: string | undefined,
    retry: boolean,
  ): Promise<{ workflowId: string; joined: boolean | null }> {
    const { handle, joined } = await startHeal(
      await this.client(),
      {
        versionId,
        trigger: 'manual',
        failure: {
          failureType: 'manual',
          description: reason || 'heal requested by an operator (dashboard)',
          severity: 'high',
          detectionMethod: 'manual',
        },
      },
      { retry, taskQueue: this.taskQueue, detectJoined: true },
    );
    return { workflowId: handle.workflowId, joined };
  }

  async cancelHeal(versionId: string): Promise<string> {
    const handle = (await this.client()).workflow.getHandle<typeof selfHealWorkflow>(healWorkflowId(versionId));
    const description = await handle.describe().catch(() => null);
    if (!description || description.status.name !== 'RUNNING')
      throw new ActionRefused(`no running heal of ${versionId} to cancel`);
    await handle.cancel();
    return handle.workflowId;
  }

  /** The live progress of running heals (the workflow's `progress` query); absent ones are left out. */
  async progress(versionIds: string[]): Promise<Map<string, HealProgress>> {
    const found = new Map<string, HealProgress>();
    if (!versionIds.length) return found;
    const client = await this.client();
    await Promise.all(
      versionIds.map(async (id) => {
        const p = await client.workflow
          .getHandle(healWorkflowId(id))
          .query(healProgressQuery)
          .catch(() => null);
        if (p) found.set(id, p);
      }),
    );
    return found;
  }

  async monitorStatus(): Promise<MonitorReachability> {
    try {
      return await askMonitorStatus(await this.client());
    } catch (err) {
      return { reachable: false, reason: (err as Error).message.split('\n')[0]! };
    }
  }

  async signalMonitor(action: 'pause' | 'resume'): Promise<void> {
    await (
      await this.client()
    ).workflow
      .getHandle(HEALTH_MONITOR_WORKFLOW_ID)
      .signal(action === 'pause' ? pauseSignal : resumeSignal);
  }

  /** Promotes or aborts a running canary (the signals `dise canary promote|abort` send). */
  async signalCanary(versionId: string, action: 'promote' | 'abort'): Promise<string> {
    const handle = (await this.client()).workflow.getHandle(canaryWorkflowId(versionId));
    const description = await handle.describe().catch(() => null);
    if (!description || description.status.name !== 'RUNNING')
      throw new ActionRefused(`no running canary of ${versionId} to ${action}`);
    const reason = `${action === 'promote' ? 'promoted' : 'aborted'} by an operator (dashboard)`;
    await handle.signal(action === 'promote' ? canaryPromoteSignal : canaryAbortSignal, { reason });
    return handle.workflowId;
  }

  /**
   * A person's decision on a HELD feature_add: the `reviewDecision` signal `dise review` sends (the
   * workflow started with it when nothing started it). Returns the review workflow's id.
   */
  async signalReview(versionId: string, decision: 'approve' | 'refuse', note: string | null): Promise<string> {
    const { sendReviewDecision } = await import('../client/review.js');
    const handle = await sendReviewDecision(
      await this.client(),
      versionId,
      { decision, note, by: 'dashboard' },
      { taskQueue: this.taskQueue },
    );
    return handle.workflowId;
  }

  async close(): Promise<void> {
    const h = this.handle;
    this.handle = null;
    if (h) await (await h.catch(() => null))?.close();
  }
}
