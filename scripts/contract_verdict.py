"""The verdict of `make contract` (scripts/contract.sh), from each schemathesis
run's reports: its JUnit report (one test case per operation, and one for
the stateful phase) and its JSON run report (`--report json`: warnings,
phases, errors, exit code), not from the terminal's wording.

Usage: contract_verdict.py NAME JUNIT JSON EXIT_STATUS [NAME JUNIT JSON EXIT_STATUS ...]

Prints one `test result: ok|FAILED. N passed; M failed; K skipped` line
(that `make test` counts with the cargo runs) after one `contract: ...` line
per problem, and exits 1 on any of: a missing or unreadable report, a run
with no test case, a failed or errored case, a stateful phase that did not
run, a run that did not complete, any warning, a non-zero exit status.
Skipped cases are counted apart, never as passed.
"""
import json
import sys
import xml.etree.ElementTree as ET


def junit_counts(path, name, problems):
    """(tests, failed, skipped) of one JUnit report."""
    try:
        cases = list(ET.parse(path).getroot().iter("testcase"))
    except (OSError, ET.ParseError) as err:
        problems.append(f"{name}: no JUnit report ({err})")
        return 0, 0, 0
    failed = skipped = 0
    for case in cases:
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None:
            skipped += 1
    if not cases:
        problems.append(f"{name}: the JUnit report has no test case")
    return len(cases), failed, skipped


def json_problems(path, name, problems, info):
    try:
        with open(path, encoding="utf-8") as file:
            report = json.load(file)
    except (OSError, ValueError) as err:
        problems.append(f"{name}: no JSON run report ({err})")
        return
    if not isinstance(report, dict):
        problems.append(f"{name}: the JSON run report is not an object")
        return
    info.append(
        f"{name}: {(report.get('test_cases') or {}).get('generated')} test cases, "
        f"stop reason {report.get('stop_reason')}, seed {report.get('seed')}"
    )
    if report.get("complete") is not True:
        problems.append(f"{name}: the run did not complete (stop reason: {report.get('stop_reason')})")
    stateful = (report.get("phases") or {}).get("stateful") or {}
    if stateful.get("status") not in ("success", "failure"):
        reason = stateful.get("skip_reason") or "not in the report"
        problems.append(f"{name}: the stateful phase did not run ({stateful.get('status')}: {reason})")
    warnings = report.get("warnings")
    if not isinstance(warnings, dict):
        problems.append(f"{name}: the JSON run report has no warnings section")
    else:
        for kind, labels in sorted(warnings.items()):
            if labels:
                problems.append(f"{name}: warning {kind}: {', '.join(labels)}")
    for error in report.get("errors") or []:
        problems.append(f"{name}: error {error.get('title')} (x{error.get('count')})")
    cases = report.get("test_cases") or {}
    if cases.get("errored"):
        problems.append(f"{name}: {cases['errored']} test case(s) errored")
    if report.get("failures") and not cases.get("with_failures"):
        problems.append(f"{name}: failures reported without failing test cases")


def verdict(args):
    """(exit code, lines to print): each run's figures and the problems, then the result line."""
    if not args or len(args) % 4:
        return 2, ["contract_verdict: expected NAME JUNIT JSON EXIT_STATUS groups"]
    problems, info = [], []
    tests = failed = skipped = 0
    for i in range(0, len(args), 4):
        name, junit, json_path, status = args[i : i + 4]
        run_tests, run_failed, run_skipped = junit_counts(junit, name, problems)
        json_problems(json_path, name, problems, info)
        if int(status) and not run_failed:
            problems.append(f"{name}: schemathesis exited {status}")
        tests += run_tests
        failed += run_failed
        skipped += run_skipped
    passed = tests - skipped - failed
    failed += len(problems)
    lines = [f"contract: {line}" for line in info + problems]
    mark = "FAILED" if failed else "ok"
    lines.append(
        f"test result: {mark}. {passed} passed; {failed} failed; {skipped} skipped; "
        "(schemathesis, one per operation and the stateful phase, per API version and for the operator API)"
    )
    return (1 if failed else 0), lines


if __name__ == "__main__":
    code, lines = verdict(sys.argv[1:])
    for line in lines[:-1]:
        print(line, file=sys.stderr)
    print(lines[-1])
    sys.exit(code)
