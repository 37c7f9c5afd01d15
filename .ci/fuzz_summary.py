"""Summarise a schemathesis NDJSON report for `.ci/fuzz`: requests made, their statuses, and the failures.

Usage: python .ci/fuzz_summary.py REPORT.ndjson SECONDS
"""

import json
import sys
from collections import Counter
from pathlib import Path


def summarise(lines: list[str]) -> tuple[Counter[str], set[str], set[tuple[str, str, str]]]:
    """Status classes of every request, the operations tested, and the distinct failures."""
    statuses: Counter[str] = Counter()
    operations: set[str] = set()
    failures: set[tuple[str, str, str]] = set()
    for line in lines:
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished["recorder"]
        if recorder["label"].split(" ")[0] in {"GET", "PUT", "POST", "PATCH", "DELETE"}:
            operations.add(recorder["label"])
        for interaction in recorder.get("interactions", {}).values():
            response = interaction.get("response")
            statuses[f"{response['status_code'] // 100}xx" if response else "no answer"] += 1
        for checks in recorder.get("checks", {}).values():
            for check in checks:
                failure = (check.get("failure_info") or {}).get("failure")
                if check.get("status") == "failure" and failure:
                    failures.add((failure.get("operation") or recorder["label"], failure["code"], failure["title"]))
    return statuses, operations, failures


def dropped(path: Path) -> Counter[tuple[str, str]]:
    """How often each rule of .ci/fuzz_hooks.py dropped a failure, by check code."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return Counter((code, rule) for code, rule, *_ in (line.split("\t") for line in lines))


def main() -> None:
    """Print the summary lines."""
    path, seconds = Path(sys.argv[1]), sys.argv[2]
    statuses, operations, failures = summarise(path.read_text(encoding="utf-8").splitlines())
    spread = ", ".join(f"{name} {count}" for name, count in sorted(statuses.items()))
    print(f"fuzz: {statuses.total()} requests to {len(operations)} operations in {seconds} s ({spread})")
    print(f"fuzz: {len(failures)} distinct failures (operation, check)")
    for operation, code, title in sorted(failures):
        print(f"  {code} {title}: {operation}")
    excused = dropped(path.parent / "dropped.txt")
    print(f"fuzz: {excused.total()} check results excused as deliberate behaviour (.ci/fuzz_hooks.py)")
    for (code, rule), count in sorted(excused.items()):
        print(f"  {code} {rule}: {count}")


if __name__ == "__main__":
    main()
