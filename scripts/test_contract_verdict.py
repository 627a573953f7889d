"""Checks of scripts/contract_verdict.py on made-up reports (run by `make
contract` before schemathesis): the verdict must fail when a report is
missing, a warning or an error is recorded, the stateful phase did not run
or schemathesis exited non-zero, and count skipped cases apart."""
import json
import os
import tempfile
import unittest

from contract_verdict import verdict

PASSED = '<testcase name="GET /a"/>'
STATEFUL = '<testcase name="Stateful tests"/>'
SKIPPED = '<testcase name="GET /b"><skipped/></testcase>'
FAILED = '<testcase name="GET /c"><failure/></testcase>'
NO_WARNINGS = {"missing_test_data": [], "validation_mismatch": []}


def clean_report(**changes):
    report = {
        "complete": True,
        "stop_reason": "completed",
        "seed": 1,
        "phases": {"examples": {"status": "success", "skip_reason": None},
                   "stateful": {"status": "success", "skip_reason": None}},
        "test_cases": {"generated": 10, "with_failures": 0, "errored": 0},
        "failures": [],
        "errors": [],
        "warnings": NO_WARNINGS,
    }
    report.update(changes)
    return report


class Verdict(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def run_of(self, cases=(PASSED, STATEFUL), report=None, status=0, junit=True, name="v1"):
        junit_path = os.path.join(self.dir.name, f"{name}.xml")
        json_path = os.path.join(self.dir.name, f"{name}.json")
        if junit:
            with open(junit_path, "w") as f:
                f.write(f'<testsuites><testsuite>{"".join(cases)}</testsuite></testsuites>')
        if report is not None:
            with open(json_path, "w") as f:
                f.write(report if isinstance(report, str) else json.dumps(report))
        return [name, junit_path, json_path, str(status)]

    def assert_fails(self, args, why):
        code, lines = verdict(args)
        self.assertEqual(code, 1, lines)
        self.assertTrue(any(why in line for line in lines), lines)
        self.assertIn("FAILED", lines[-1])

    def test_a_clean_run_passes(self):
        code, lines = verdict(self.run_of(report=clean_report()) + self.run_of(report=clean_report(), name="op"))
        self.assertEqual(code, 0, lines)
        self.assertTrue(lines[-1].startswith("test result: ok. 4 passed; 0 failed; 0 skipped;"), lines)

    def test_skipped_cases_are_not_passed(self):
        code, lines = verdict(self.run_of(cases=(PASSED, STATEFUL, SKIPPED), report=clean_report()))
        self.assertEqual(code, 0, lines)
        self.assertIn("2 passed; 0 failed; 1 skipped;", lines[-1])

    def test_a_failed_case_fails(self):
        self.assert_fails(self.run_of(cases=(PASSED, STATEFUL, FAILED), report=clean_report(), status=1),
                          "2 passed; 1 failed")

    def test_a_missing_junit_report_fails(self):
        self.assert_fails(self.run_of(report=clean_report(), junit=False), "no JUnit report")

    def test_a_missing_json_report_fails(self):
        self.assert_fails(self.run_of(), "no JSON run report")

    def test_an_unreadable_json_report_fails(self):
        self.assert_fails(self.run_of(report="{"), "no JSON run report")

    def test_an_empty_junit_report_fails(self):
        self.assert_fails(self.run_of(cases=(), report=clean_report()), "no test case")

    def test_any_warning_fails(self):
        warnings = {**NO_WARNINGS, "validation_mismatch": ["POST /x"]}
        self.assert_fails(self.run_of(report=clean_report(warnings=warnings)), "warning validation_mismatch: POST /x")

    def test_a_report_without_a_warnings_section_fails(self):
        report = clean_report()
        del report["warnings"]
        self.assert_fails(self.run_of(report=report), "no warnings section")

    def test_a_skipped_stateful_phase_fails(self):
        phases = {"stateful": {"status": "skip", "skip_reason": "max_time"}}
        self.assert_fails(self.run_of(report=clean_report(phases=phases)), "stateful phase did not run (skip: max_time)")

    def test_an_absent_stateful_phase_fails(self):
        self.assert_fails(self.run_of(report=clean_report(phases={})), "stateful phase did not run")

    def test_an_incomplete_run_fails(self):
        self.assert_fails(self.run_of(report=clean_report(complete=False, stop_reason="error")), "did not complete")

    def test_an_error_fails(self):
        errors = [{"title": "Hook Error", "count": 1}]
        self.assert_fails(self.run_of(report=clean_report(errors=errors)), "error Hook Error")

    def test_a_non_zero_exit_without_a_failed_case_fails(self):
        self.assert_fails(self.run_of(report=clean_report(), status=1), "exited 1")

    def test_one_bad_run_fails_them_all(self):
        self.assert_fails(self.run_of(report=clean_report()) + self.run_of(name="op", junit=False,
                          report=clean_report()), "op: no JUnit report")


if __name__ == "__main__":
    unittest.main()
