// The shared-memory protocol between src/sandbox/python.ts (the host side) and worker.mjs (the thread
// that runs Pyodide): one home for both, so the two sides cannot drift apart. Plain JavaScript, so the
// worker loads it without loader hooks.

/** Slots of the Int32Array control block. */
export const REQ = 0;
export const RESP = 1;
export const STATE = 2;
export const OP = 3;
export const LEN_A = 4;
export const LEN_B = 5;
export const LEN_C = 6;
export const MEM_MB = 7;
export const RESULT_LEN = 8;
export const COLD_MS = 9;
export const HEAP_MB = 10;
export const BASE_MB = 11;
/** 1 when the worker was given a snapshot that would not load, and loaded the plain way instead. */
export const SNAPSHOT_REFUSED = 12;
/**
 * The request an interrupt is meant for (the host stores it before the interrupt itself): the worker
 * clears an interrupt left from an earlier request when it takes a new one, and keeps one meant for it.
 */
export const INTERRUPT_SEQ = 13;
export const CTRL_SLOTS = 16;

/** What a request asks. */
export const OP_CALL = 1;
export const OP_COMPILE_CALL = 2;
export const OP_ANALYZE = 3;
export const OP_SELF_CHECK = 4;
export const OP_PROBE = 5;
export const OP_COMPILE_CALL_UNGUARDED = 6;

/** The worker's state: booting, its context created (code generation may be turned back on), ready, failed. */
export const STATE_BOOT = 0;
export const STATE_CONTEXT = 1;
export const STATE_READY = 2;
export const STATE_FAILED = 3;
