#!/usr/bin/env python3
"""Independent reference for the dependent-token tasks (docs/tasks.md): perm, hops, carry, color,
spread.

Writes Tests/PareTests/Fixtures/dependent/cases.json. The prompts come from Python's own
generator (not Pare's), following the documented formats, with edge cases added by hand;
answers come from solvers written here from the task definitions:
  perm  - candidate outputs labelled valid/invalid by a multiset comparison;
  hops  - the trace, evaluated statement by statement;
  carry - each column's sum digit and carry, from Python integer arithmetic on prefixes;
  color - candidate fillings labelled valid/invalid cell by cell, and each template's number of
          right fillings counted by dynamic programming over the path;
  spread - the same with four colours and cells at most two apart distinct (the DP runs over the
          last two colours).
The Swift tests check Pare's checker and their own prompt solvers against this file, and then
Pare's generators against those solvers.

    python3 experiments/dependent_tasks_fixture.py
"""
import json
import random
import string
from collections import Counter
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "Tests/PareTests/Fixtures/dependent/cases.json"
rnd = random.Random(20261129)
LETTERS = string.ascii_lowercase


def perm_cases():
    cases = []
    for n in [16, 17, 20, 23, 24]:
        given = rnd.sample(LETTERS, n)
        prompt = "perm:" + "".join(given) + "="
        valid = "".join(rnd.sample(given, n))
        cands = [
            (valid, True),
            ("".join(given), True),                       # the prompt order itself is a permutation
            ("".join(reversed(given)), True),
            (valid[:-1], False),                          # one letter missing
            (valid + valid[0], False),                    # one letter twice
            (valid[1:] + valid[1], False),                # a duplicate replacing a letter
            (valid[:-1] + next(c for c in LETTERS if c not in given), False),  # a foreign letter
            ("", False),
            (valid[:5] + "1" + valid[5:], False),         # a digit inserted
        ]
        for out, expected in cands:
            assert (Counter(out) == Counter(given)) == expected
        cases.append({"prompt": prompt, "candidates": [{"output": o, "valid": v} for o, v in cands]})
    return cases


COLORS = "abc"


def color_valid(template, output):
    """A right filling keeps the fixed cells, colours every blank, and no neighbours are equal."""
    return (len(output) == len(template)
            and all(o in COLORS and t in ("-", o) for t, o in zip(template, output))
            and all(x != y for x, y in zip(output, output[1:])))


def color_fillings(template):
    """Number of right fillings: ways[c] counts proper colourings of the prefix ending in colour c."""
    ways = {c: int(template[0] in ("-", c)) for c in COLORS}
    for t in template[1:]:
        ways = {c: (sum(w for d, w in ways.items() if d != c) if t in ("-", c) else 0) for c in COLORS}
    return sum(ways.values())


def color_cases():
    cases = []
    for k in range(8):
        cells = [rnd.choice(COLORS)]
        while len(cells) < 30:
            cells.append(rnd.choice([c for c in COLORS if c != cells[-1]]))
        valid = "".join(cells)
        template = "".join("-" if rnd.random() < [0.6, 0.3, 1.0, 0.0][k % 4] else c for c in cells)
        # Another right filling: recolour the first blank whose neighbours leave a second colour.
        other = None
        for i, t in enumerate(template):
            if t == "-":
                free = [c for c in COLORS if c != cells[i]
                        and (i == 0 or c != cells[i - 1]) and (i == 29 or c != cells[i + 1])]
                if free:
                    other = valid[:i] + free[0] + valid[i + 1:]
                    break
        clash = valid[:10] + valid[9] + valid[11:]                  # two equal neighbours
        cands = [(valid, True), (valid[:-1], False), (valid + "a", False), (clash, False),
                 (valid[:4] + "d" + valid[5:], False), ("", False)]
        if other:
            cands.append((other, True))
        fixed = next((i for i, t in enumerate(template) if t != "-"), None)
        if fixed is not None:                                       # a fixed cell changed
            changed = [c for c in COLORS if c != template[fixed]
                       and (fixed == 0 or c != valid[fixed - 1]) and (fixed == 29 or c != valid[fixed + 1])]
            if changed:
                cands.append((valid[:fixed] + changed[0] + valid[fixed + 1:], False))
        for out, expected in cands:
            assert color_valid(template, out) == expected, (template, out)
        cases.append({"prompt": f"color:{template}=", "fillings": color_fillings(template),
                      "candidates": [{"output": o, "valid": v} for o, v in cands]})
    # Tiny templates whose fillings are easy to count by hand: "-" 3, "--" 6, "a-a" 2, "a-b" 1.
    for t, n in [("-", 3), ("--", 6), ("a-a", 2), ("a-b", 1), ("aa", 0)]:
        assert color_fillings(t) == n
    return cases


SPREAD = "abcd"


def spread_valid(template, output):
    """Four colours; the fixed cells kept; any two cells at most two apart differ."""
    return (len(output) == len(template)
            and all(o in SPREAD and t in ("-", o) for t, o in zip(template, output))
            and all(output[i] not in output[max(0, i - 2):i] for i in range(len(output))))


def spread_fillings(template):
    """ways[(p, q)]: right fillings of the prefix ending in colours p, q (p = None at the start)."""
    ways = {(None, c): 1 for c in SPREAD if template[0] in ("-", c)}
    for t in template[1:]:
        nxt = {}
        for (p, q), w in ways.items():
            for c in SPREAD:
                if t in ("-", c) and c != q and c != p:
                    nxt[(q, c)] = nxt.get((q, c), 0) + w
        ways = nxt
    return sum(ways.values())


def spread_cases():
    cases = []
    for k in range(8):
        cells = []
        while len(cells) < 30:
            cells.append(rnd.choice([c for c in SPREAD if c not in cells[-2:]]))
        valid = "".join(cells)
        template = "".join("-" if rnd.random() < [0.6, 0.3, 1.0, 0.0][k % 4] else c for c in cells)
        near = valid[:10] + valid[8] + valid[11:]                   # equal to the cell two back
        cands = [(valid, True), (valid[:-1], False), (valid + "a", False), (near, False),
                 (valid[:4] + "e" + valid[5:], False), ("", False)]
        for i, t in enumerate(template):                           # another right filling, if any
            if t == "-":
                free = [c for c in SPREAD if c != valid[i] and c not in valid[max(0, i - 2):i] + valid[i + 1:i + 3]]
                if free:
                    cands.append((valid[:i] + free[0] + valid[i + 1:], True))
                    break
        for out, expected in cands:
            assert spread_valid(template, out) == expected, (template, out)
        cases.append({"prompt": f"spread:{template}=", "fillings": spread_fillings(template),
                      "candidates": [{"output": o, "valid": v} for o, v in cands]})
    # By hand: "-" 4, "--" 12, "---" 24, "a-a" 0, "a--" 6, "ab-" 2.
    for t, n in [("-", 4), ("--", 12), ("---", 24), ("a-a", 0), ("a--", 6), ("ab-", 2)]:
        assert spread_fillings(t) == n, (t, spread_fillings(t))
    return cases


def hops_prompt():
    v = rnd.randint(0, 9)
    stmts = [f"a={v}"]
    for h in range(1, 9):
        d = rnd.choice([x for x in range(-9, 10) if x != 0 and 0 <= v + x <= 9])
        v += d
        stmts.append(f"{LETTERS[h]}{'+' if d > 0 else '-'}{abs(d)}")
    return ";".join(stmts) + "?"


def solve_hops(prompt):
    """`x+d` / `x-d` sets x to the previous statement's value plus / minus d."""
    stmts = prompt.rstrip("?").split(";")
    assert len(stmts) == 9 and stmts[0][:2] == "a="
    value, trace = int(stmts[0][2:]), []
    for st in stmts[1:]:
        name, op, d = st[0], st[1], int(st[2:])
        value = value + d if op == "+" else value - d
        assert 0 <= value <= 9
        trace.append(f"{name}={value}")
    return ";".join(trace)


def solve_carry(prompt):
    a_text, b_text = prompt.rstrip("=").split("+")
    n = len(a_text)
    a, b = int(a_text), int(b_text)
    cols = []
    for i in range(n):
        digit = ((a + b) // 10 ** i) % 10
        carry = int(a % 10 ** (i + 1) + b % 10 ** (i + 1) >= 10 ** (i + 1))
        cols.append(f"{digit}{carry}")
    return ",".join(cols)


def main():
    hops = [{"prompt": p, "answer": solve_hops(p)}
            for p in [hops_prompt() for _ in range(8)]
            + ["a=0;b+9;c-9;d+1;e+8;f-8;g+8;h-9;i+5?", "a=9;b-1;c-1;d-1;e-1;f-1;g-1;h-1;i-1?"]]
    numbers = [(rnd.randrange(10 ** 8), rnd.randrange(10 ** 8)) for _ in range(8)]
    numbers += [(99999999, 1), (99999999, 99999999), (0, 0), (45454545, 54545454), (12345678, 87654321)]
    carry = [{"prompt": f"{a:08d}+{b:08d}=", "answer": solve_carry(f"{a:08d}+{b:08d}=")} for a, b in numbers]
    # A wrong answer per exact-scored case: one character changed.
    for c in hops + carry:
        ans = c["answer"]
        i = next(i for i in range(len(ans) - 1, -1, -1) if ans[i].isdigit())
        c["wrong"] = ans[:i] + str((int(ans[i]) + 1) % 10) + ans[i + 1:]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"perm": perm_cases(), "hops": hops, "carry": carry, "color": color_cases(),
                               "spread": spread_cases()}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
