"""Checks of the contract run's schemathesis settings (run by `make contract`
with the pinned schemathesis, before the run): every warning schemathesis
shows by default is on but `missing_auth`, so a schemathesis upgrade that
adds one turns it on here or fails; and a schema-valid case, which carries
a valid credential, is never allowed a 401 or 403 (that rule is what
replaces `missing_auth`)."""
import pathlib
import tomllib
import unittest

from schemathesis.config._warnings import DEFAULT_DISPLAYED_WARNINGS

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIGS = ["schemathesis.toml", "schemathesis-operator.toml"]


def load(name):
    with open(ROOT / name, "rb") as f:
        return tomllib.load(f)


class Settings(unittest.TestCase):
    def test_every_default_warning_but_missing_auth_is_on(self):
        expected = {str(w.value) for w in DEFAULT_DISPLAYED_WARNINGS} - {"missing_auth"}
        for name in CONFIGS:
            with self.subTest(name):
                self.assertEqual(set(load(name)["warnings"]), expected)

    def test_no_operation_turns_a_warning_off(self):
        for name in CONFIGS:
            for operation in load(name).get("operations", []):
                with self.subTest(name, operation=operation):
                    self.assertNotIn("warnings", operation)

    def test_a_schema_valid_case_is_never_allowed_401_or_403(self):
        for name in CONFIGS:
            with self.subTest(name):
                statuses = load(name)["checks"]["positive_data_acceptance"]["expected-statuses"]
                self.assertEqual(sorted(statuses), ["2xx", "404", "409"])


if __name__ == "__main__":
    unittest.main()
