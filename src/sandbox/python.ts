// TEMPORARY stub until the python-sandbox branch lands
export function pythonReady(): boolean { return false; }
export async function warmPython(): Promise<void> {}
export type PythonAnalysis =
  | { ok: false; error: { line: number; col: number; message: string } }
  | { ok: true; definesRun: boolean; imports: { module: string; line: number }[]; calls: { name: string; line: number; col: number }[]; names: { id: string; line: number; col: number }[]; attributes: { attr: string; line: number; col: number }[]; tokens: { type: string; text: string; line: number; col: number }[]; statements: { line: number; endLine: number; dump: string }[] };
export function analyzePython(code: string): PythonAnalysis { return { ok: false, error: { line: 1, col: 0, message: code } }; }
