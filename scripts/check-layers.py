#!/usr/bin/python3
"""The layer rule of docs/architecture.md, checked over every #include "dir/file" in src/.

Each directory of src/ belongs to a layer and may include its own layer and the ones below it,
never one above, so the planner knows no executor. And the plan is the hinge: the executors and
the report see only the plan, never the policy it was made from. Usage: check-layers.py [SRC_DIR]; exit 1 on a violation,
with one line per offending include.
"""
import pathlib
import re
import sys

# Lowest first. A directory may include directories of its own layer or any earlier one.
LAYERS = [
    ("base", {"base", "sys"}),
    ("vocabulary", {"limits", "syscalls", "egress"}),
    ("inputs", {"policy", "host"}),
    ("plan", {"plan"}),
    ("executors", {"cgroup", "seccomp", "jail", "supervise", "net", "workspace"}),
    ("report", {"report"}),
    ("front ends", {"cli", "serve", "http", "mcp", "pipeline", "build_tools", "ci"}),
]
RANK = {d: i for i, (_, dirs) in enumerate(LAYERS) for d in dirs}
# Below these layers' reach although lower: what only the planner may read.
HIDDEN = {"executors": {"policy"}, "report": {"policy"}}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/[^"]+"', re.M)


def main() -> int:
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent / "src")
    problems = []
    for path in sorted(p for p in src.rglob("*") if p.suffix in {".h", ".cc", ".c"}):
        own = path.relative_to(src).parts[0]
        if own not in RANK:
            if len(path.relative_to(src).parts) > 1:
                problems.append(f"{path}: directory {own}/ has no layer in scripts/check-layers.py")
            continue
        for match in INCLUDE.finditer(path.read_text(errors="replace")):
            dep = match.group(1)
            if dep not in RANK:
                continue  # generated headers (build/generated) and the like
            layer = LAYERS[RANK[own]][0]
            line = path.read_text(errors="replace").count("\n", 0, match.start()) + 1
            if RANK[dep] > RANK[own]:
                problems.append(f"{path}:{line}: {own}/ ({layer}) includes {dep}/ "
                                f"({LAYERS[RANK[dep]][0]}), a layer above it (docs/architecture.md)")
            elif dep in HIDDEN.get(layer, ()):
                problems.append(f"{path}:{line}: {own}/ ({layer}) includes {dep}/: only the planner reads it, "
                                f"the {layer} get what they need from plan/plan.h (docs/architecture.md)")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
