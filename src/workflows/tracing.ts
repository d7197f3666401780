/**
 * The workflow interceptors of a traced worker (`interceptors.workflowModules`, only when tracing is
 * installed): OpenTelemetry's, which give every workflow, signal, activity and child start a span and
 * carry the context in Temporal headers, and one of ours. Deterministic: spans leave the workflow
 * through the SDK's sink, and nothing here reads a clock or the environment.
 */
import { defaultPayloadConverter } from '@temporalio/common';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow/index.js';
import type {
  Next,
  StartChildWorkflowExecutionInput,
  WorkflowInterceptors,
  WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { HEAL_WORKFLOW_TYPE, TRACE_HEADER } from '../shared/heal-start.js';
import type { SelfHealInput } from '../shared/heal-types.js';

/**
 * The health monitor starts heals from its loop, long after the signal that brought the report: a
 * heal whose input names the report's traceparent is started under it instead of the monitor's own
 * span, so one trace runs from the failing call to the promotion. Listed after OpenTelemetry's
 * outbound interceptor, so its header is the one sent.
 */
class HealJoinsReportTrace implements WorkflowOutboundCallsInterceptor {
  async startChildWorkflowExecution(
    input: StartChildWorkflowExecutionInput,
    next: Next<WorkflowOutboundCallsInterceptor, 'startChildWorkflowExecution'>,
  ): ReturnType<WorkflowOutboundCallsInterceptor['startChildWorkflowExecution'] & {}> {
    const traceparent =
      input.workflowType === HEAL_WORKFLOW_TYPE
        ? (input.options.args?.[0] as SelfHealInput | undefined)?.traceparent
        : undefined;
    if (!traceparent) return next(input);
    return next({
      ...input,
      headers: { ...input.headers, [TRACE_HEADER]: defaultPayloadConverter.toPayload({ traceparent }) },
    });
  }
}

export const interceptors = (): WorkflowInterceptors => ({
  inbound: [new OpenTelemetryInboundInterceptor()],
  outbound: [new OpenTelemetryOutboundInterceptor(), new HealJoinsReportTrace()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
