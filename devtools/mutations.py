"""`make mutate`: break each safety rule of issue 4 on purpose and check that a test notices.

Each mutation replaces one snippet of source text, runs the tests that guard it, and restores the file.
A mutation that no test kills is a rule the suite doesn't really check. Prints one line per mutation.
"""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# (rule, file, original text, mutated text, tests that must fail)
MUTATIONS = [
    ("verification links expire after 24 h", "chalicelib/tokens.py",
     "VERIFY: dt.timedelta(hours=24)", "VERIFY: dt.timedelta(hours=48)",
     "tests/test_abuse.py::test_verification_link_expires_after_24_hours"),
    ("re-sends are capped at 3", "chalicelib/privacy_requests.py",
     "MAX_VERIFICATION_SENDS = 4", "MAX_VERIFICATION_SENDS = 5",
     "tests/test_abuse.py::test_resend_is_capped_at_three"),
    ("an open request locks its team+email+type", "chalicelib/privacy_requests.py",
     "tx.save(lock, condition=Marker.pk.does_not_exist() | (Marker.expires_at < received))",
     "tx.save(lock)",
     "tests/test_abuse.py::test_duplicate_submission_returns_the_same_request_and_no_email_beyond_the_cap"),
    ("unverified requests are hidden once expired", "chalicelib/privacy_requests.py",
     "    if r.status == AWAITING and r.expires_at is not None and r.expires_at <= clock.now():",
     "    if False:",
     "tests/test_abuse.py::test_unverified_request_expires_after_7_days_and_a_new_one_can_be_made"),
    ("portal submissions are rate limited", "chalicelib/privacy_requests.py",
     "    ratelimit.check_portal_submission(team_id, address, source_ip)\n", "",
     "tests/test_abuse.py -k 429"),
    ("action links die when the officer changes", "chalicelib/actions.py",
     "if settings.privacy_officer_id and settings.privacy_officer_id != officer:", "if False:",
     "tests/test_abuse.py -k officer"),
    ("pages forbid framing", "chalicelib/web.py", '"X-Frame-Options": "DENY",', "",
     "tests/test_abuse.py::test_html_pages_send_strict_security_headers"),
    ("logs never show emails", "chalicelib/logsafe.py", "    return EMAIL.sub(lambda m: pseudonym(m.group(0)), text)",
     "    return text", "tests/test_abuse.py::test_logs_never_show_tokens_or_client_emails"),
    ("a removed member's token stops working", "chalicelib/web.py",
     "    if found is None:\n        raise Unauthorized", "    if False:\n        raise Unauthorized",
     "tests/test_abuse.py::test_removed_member_token_stops_working_at_once"),
    ("a failed email fails the stream batch", "chalicelib/notifications.py",
     "    if failed:\n        raise BatchFailed", "    if False:\n        raise BatchFailed",
     "tests/test_faults.py::test_ses_outage_fails_the_batch_then_the_officer_gets_exactly_one_email"),
    ("an email is sent once per event", "chalicelib/notifications.py",
     "    if already_sent(marker):\n        return 0", "    if False:\n        return 0",
     "tests/test_faults.py::test_redelivered_and_out_of_order_records_change_nothing"),
    ("late stream records are dropped", "chalicelib/notifications.py",
     "    if current is None or not _still_relevant(event, current):", "    if current is None:",
     "tests/test_faults.py -k 'out_of_order or arrives_after'"),
    ("purge progress is saved per page", "chalicelib/purge.py",
     "            on_progress(dict(progress))", "            pass",
     "tests/test_faults.py -k 'purge_crash or purge_killed'"),
    ("only one execution can claim a request", "chalicelib/privacy_requests.py",
     "        ], condition=PrivacyRequest.status.is_in(*EXECUTABLE)\n",
     "        ], condition=PrivacyRequest.status.exists()\n",
     "tests/test_faults.py -k second_execution"),
    ("throttled writes are retried", "chalicelib/db.py", "max_retry_attempts=5", "max_retry_attempts=0",
     "tests/test_faults.py::test_dynamodb_throttling_is_retried_and_no_request_is_lost"),
    ("unknown fields are refused", "chalicelib/schemas.py",
     '''    "portal_request": {
        "type": "object",
        "additionalProperties": False,''', '''    "portal_request": {
        "type": "object",''', "tests/test_bad_input.py tests/test_openapi.py"),
    ("JSON bodies are capped at 64 KiB", "chalicelib/web.py", "JSON_LIMIT = 64 * 1024", "JSON_LIMIT = 64 * 1024 * 1024",
     "tests/test_bad_input.py"),
    # issue 7 (security review)
    ("data.csv cells never start a formula", "chalicelib/exports.py",
     "    return [\"'\" + cell if cell.startswith(_FORMULA_STARTS) else cell for cell in cells]", "    return cells",
     "tests/test_rights.py -k csv"),
    ("labels refuse control and invisible characters", "chalicelib/text.py",
     "        if unicodedata.category(char) not in _REFUSED_IN_LABELS:", "        if True:",
     "tests/test_text.py -k filename"),
    ("log records keep their arguments for other filters", "chalicelib/logsafe.py",
     "        record.args = _scrub_args(record.args)", "        record.msg, record.args = record.getMessage(), ()",
     "tests/test_logsafe.py -k chalice"),
    ("deployed stages refuse a weak secret", "chalicelib/config.py",
     "        reason = weak_secret_reason(secret)", "        reason = None",
     "tests/test_config.py tests/test_stages.py -k secret"),
]


def run_tests(selector: str) -> bool:
    args = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *selector.split(" -k ")[0].split()]
    if " -k " in selector:
        args += ["-k", selector.split(" -k ")[1].strip("'")]
    return subprocess.run(args, cwd=ROOT, capture_output=True).returncode == 0


def main() -> None:
    survived = 0
    for rule, path, original, mutated, tests in MUTATIONS:
        file = ROOT / path
        source = file.read_text()
        if source.count(original) != 1:
            print(f"STALE     {rule}: the snippet is no longer in {path} exactly once; update devtools/mutations.py")
            survived += 1
            continue
        file.write_text(source.replace(original, mutated))
        try:
            passed = run_tests(tests)
        finally:
            file.write_text(source)
        print(f"{'SURVIVED' if passed else 'killed  '}  {rule}  ({tests})", flush=True)
        survived += passed
    print(f"{len(MUTATIONS) - survived} of {len(MUTATIONS)} mutations killed")
    raise SystemExit(1 if survived else 0)


if __name__ == "__main__":
    main()
