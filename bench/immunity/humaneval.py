"""Reads HumanEval problems and writes, as JSON on stdout, what the immunity benchmark needs.

For each problem: the canonical solution as a dise Python tool (`run(input)` calls the entry point
with the input list as its arguments), the tests of its `check()` that are plain equality asserts
on literal values (others are left out), and single-point mutants of the solution's body made with
standard mutation operators (comparison, arithmetic and boolean operators, constants).

Usage: python3 humaneval.py HumanEval.jsonl.gz > problems.json
"""
import ast
import gzip
import json
import sys

CMP_SWAPS = {
    ast.Lt: ["<=", ">"], ast.LtE: ["<", ">="], ast.Gt: [">=", "<"], ast.GtE: [">", "<="],
    ast.Eq: ["!="], ast.NotEq: ["=="],
}
BIN_SWAPS = {ast.Add: ["-"], ast.Sub: ["+"], ast.Mult: ["//", "+"], ast.FloorDiv: ["*", "%"], ast.Mod: ["//"]}
BOOL_SWAPS = {ast.And: "or", ast.Or: "and"}


def literal(node):
    """A JSON-able value of a literal expression (constants, containers, arithmetic on them), or raise."""
    expression = ast.fix_missing_locations(ast.Expression(node))
    value = eval(compile(expression, "<test>", "eval"), {"__builtins__": {}}, {})
    text = json.dumps(value)
    if json.loads(text) != value and not isinstance(value, tuple):
        raise ValueError("not a JSON value")
    return json.loads(text)


def tests_of(test_source, entry_point):
    """Equality asserts `assert candidate(args) == expected` whose arguments and answer are literals."""
    tree = ast.parse(test_source)
    check = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"), None)
    out = []
    if check is None:
        return out
    for stmt in check.body:
        if not isinstance(stmt, ast.Assert):
            continue
        t = stmt.test
        if isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], (ast.Eq, ast.Is)):
            call, expected = t.left, t.comparators[0]
        elif isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.Not):
            call, expected = t.operand, ast.Constant(False)  # assert not candidate(...)
        else:
            call, expected = t, ast.Constant(True)  # assert candidate(...)
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "candidate"):
            continue
        if call.keywords:
            continue
        try:
            args = [literal(a) for a in call.args]
            want = literal(expected)
        except Exception:
            continue
        out.append({"input": args, "expected": want})
    return out


def spans(source):
    """(start, end, replacement, operator) edits of one point each, on the solution's source text."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(lineno, col):
        # ast columns are UTF-8 byte offsets.
        line = lines[lineno - 1]
        return starts[lineno - 1] + len(line.encode("utf-8")[:col].decode("utf-8", "ignore"))

    edits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for op, right, left in zip(node.ops, node.comparators, [node.left] + node.comparators):
                for swap in CMP_SWAPS.get(type(op), []):
                    a = offset(left.end_lineno, left.end_col_offset)
                    b = offset(right.lineno, right.col_offset)
                    edits.append((a, b, f" {swap} ", "comparison"))
        elif isinstance(node, ast.BinOp):
            for swap in BIN_SWAPS.get(type(node.op), []):
                a = offset(node.left.end_lineno, node.left.end_col_offset)
                b = offset(node.right.lineno, node.right.col_offset)
                edits.append((a, b, f" {swap} ", "arithmetic"))
        elif isinstance(node, ast.BoolOp) and len(node.values) == 2:
            left, right = node.values
            a = offset(left.end_lineno, left.end_col_offset)
            b = offset(right.lineno, right.col_offset)
            edits.append((a, b, f" {BOOL_SWAPS[type(node.op)]} ", "boolean"))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            a = offset(node.lineno, node.col_offset)
            b = offset(node.end_lineno, node.end_col_offset)
            for c in (node.value + 1, node.value - 1):
                edits.append((a, b, str(c), "constant"))
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            a = offset(node.lineno, node.col_offset)
            b = offset(node.end_lineno, node.end_col_offset)
            edits.append((a, b, str(not node.value), "constant"))
    return edits


def faithful_rewrite(source):
    """The same program written differently: docstrings dropped, then printed back from its tree."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def main(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        problems = [json.loads(line) for line in f]
    out = []
    for p in problems:
        head = p["prompt"]
        solution = p["canonical_solution"]
        wrapper = f"\n\ndef run(input):\n    return {p['entry_point']}(*input)\n"
        tests = tests_of(p["test"], p["entry_point"])
        mutants = []
        seen = set()
        for a, b, text, operator in spans(head + solution):
            # Only the solution's body is mutated; the prompt's signature and docstring stay.
            if a < len(head):
                continue
            source = head + solution
            mutated = source[:a] + text + source[b:]
            if mutated in seen or mutated == source:
                continue
            try:
                ast.parse(mutated)
            except SyntaxError:
                continue
            seen.add(mutated)
            line = source[: a].count("\n") + 1
            mutants.append({"operator": operator, "line": line, "code": mutated + wrapper})
        out.append({
            "taskId": p["task_id"],
            "rewrite": faithful_rewrite(head + solution) + wrapper,
            "entryPoint": p["entry_point"],
            "code": head + solution + wrapper,
            "tests": tests,
            "mutants": mutants,
        })
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
