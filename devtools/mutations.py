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
     "tests/test_abuse.py::test_resends_are_capped_at_four_emails_in_any_24_hours"),
    ("an open request locks its team+email+type", "chalicelib/privacy_requests.py",
     "tx.save(lock, condition=Marker.pk.does_not_exist() | (Marker.expires_at < received))",
     "tx.save(lock)",
     "tests/test_abuse.py::test_duplicate_submissions_make_no_second_request"),
    ("unverified requests are hidden once expired", "chalicelib/privacy_requests.py",
     "    if r.status == AWAITING and r.expires_at is not None and r.expires_at <= clock.now():",
     "    if False:",
     "tests/test_abuse.py::test_unverified_request_expires_with_its_last_link_and_a_new_one_can_be_made"),
    ("portal submissions are rate limited", "chalicelib/privacy_requests.py",
     "    ratelimit.check_source(source_ip)\n    received = clock.now()\n", "    received = clock.now()\n",
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
     "        if event.marker in sent:\n            continue\n", "",
     "tests/test_faults.py::test_redelivered_and_out_of_order_records_change_nothing"),
    ("late stream records are dropped", "chalicelib/notifications.py",
     "    relevant = [event for event in events if _still_relevant(event, current)]", "    relevant = list(events)",
     "tests/test_faults.py -k 'out_of_order or arrives_after'"),
    ("purge progress is saved per page", "chalicelib/purge.py",
     "            on_progress(dict(progress))", "            pass",
     "tests/test_faults.py -k 'purge_crash or purge_killed'"),
    ("only one execution can claim a request", "chalicelib/privacy_requests.py",
     "        ], condition=PrivacyRequest.status.is_in(*EXECUTABLE) & append.condition)",
     "        ], condition=PrivacyRequest.status.exists() & append.condition)",
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
    # issue 7 (hardening)
    ("encoded words are refused in addresses", "chalicelib/emails.py", '    if "=?" in candidate:', "    if False:",
     "tests/test_hostile_mail.py -k encoded_word_is_refused"),
    ("the mailer refuses headers it did not write", "chalicelib/mailer.py", "    if sorted(names) != sorted(HEADERS):",
     "    if False:", "tests/test_hostile_mail.py::test_a_message_with_a_header_the_mailer_did_not_write_is_refused"),
    ("a permanent mail failure is recorded, not retried", "chalicelib/notifications.py",
     "            except mailer.PermanentSendError as exc:\n                _record_failure",
     "            except KeyboardInterrupt as exc:\n                _record_failure",
     "tests/test_hostile_mail.py -k 'permanent or undeliverable or other_officers'"),
    ("at least one admin is a write condition", "chalicelib/teams.py", "condition=TeamSettings.admin_count > 1)",
     "condition=TeamSettings.team_id.exists())", "tests/test_team_invariants.py -k demoting"),
    ("tokens die with their member's generation", "chalicelib/web.py",
     '    if not found.generation or claims.get("gen") != found.generation:', "    if False:",
     "tests/test_team_invariants.py -k recreated_member"),
    ("the erasure sweep leaves later dossiers alone", "chalicelib/purge.py",
     "and (created_until is None or d.created_at <= created_until)]", "]",
     "tests/test_after_erasure.py -k opened_after"),
    # issue 8 (asynchronous execution)
    ("a slice runs only while it holds the request's lease", "chalicelib/execution.py",
     "& (PrivacyRequest.lease_until.does_not_exist() | (PrivacyRequest.lease_until < clock.iso(now))))",
     ")", "tests/test_async_execution.py -k duplicate_message"),
    ("a page in flight is finished and counted once", "chalicelib/purge.py",
     "    if progress.get(\"in_flight\"):\n        _finish_in_flight(team_id, progress[\"in_flight\"])\n", "",
     "tests/test_async_execution.py -k killed"),
    ("the watchdog queues a stalled execution again", "chalicelib/execution.py",
     "            enqueue(item.team_id, item.request_id)\n            count += 1",
     "            count += 1", "tests/test_async_execution.py -k 'killed or lost'"),
    # issue 8 (any client, any size: the streamed export)
    ("a resumed document continues its CRC", "chalicelib/s3zip.py",
     "            if done == 0:\n                self.crc = 0\n", "            self.crc = 0\n",
     "tests/test_export_streaming.py -k killed_after_an_upload"),
    ("every part but the last has at least 5 MiB", "chalicelib/s3zip.py",
     "        if len(self.buf) < MIN_PART and not last:", "        if False:",
     "tests/test_export_streaming.py -k refused_unless"),
    ("a resumed build skips what was uploaded", "chalicelib/s3zip.py",
     "        self.skip_to = self.parts * self.part_size", "        self.skip_to = 0",
     "tests/test_export_streaming.py -k stopping_after_every_part"),
    ("documents are streamed, never held whole", "chalicelib/s3zip.py",
     "        return answer[\"Body\"], answer[\"ContentLength\"], answer[\"ETag\"]",
     "        return io.BytesIO(answer[\"Body\"].read()), answer[\"ContentLength\"], answer[\"ETag\"]",
     "tests/test_export_memory.py -k peaks_under"),
    ("the portal answers the same receipt for a duplicate", "chalicelib/privacy_requests.py",
     "            _duplicate(team_id, request.lock_key, received)\n            return receipt",
     "            _duplicate(team_id, request.lock_key, received)\n"
     "            return {\"request_id\": Marker.get(request.lock_key).value, \"status\": AWAITING}",
     "tests/test_lockout.py -k existing_request_id"),
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
    # issue 10 (Art. 19)
    ("a connected system's task is answered once", "chalicelib/recipients.py",
     '        if task["status"] in FINAL:\n            refused["error"]', '        if False:\n            refused["error"]',
     "tests/test_recipients.py -k second_callback"),
    ("a request completes only once every system answered", "chalicelib/recipients.py",
     '    if any(task["status"] not in FINAL for task in (item.recipients or {}).values()):\n        return None',
     '    if False:\n        return None',
     "tests/test_recipients.py -k only_when_every_system"),
    ("a task link works only for the owner it was mailed to", "chalicelib/recipients.py",
     '    if system.kind != "manual" or emails.pseudonym(system.owner_email or "") != claims.get("owner"):',
     '    if system.kind != "manual":',
     "tests/test_recipients.py -k owner_changes"),
    ("an edited record entry is detected", "chalicelib/request_record.py",
     '    if not hmac.compare_digest(str(entry.get("hash")), entry_mac(entry, key)):', '    if False:',
     "tests/test_request_record.py -k editing_one_entry"),
    # issue 15 (attack review: actors, the keyed record)
    ("a member id can't read as another actor", "chalicelib/actors.py",
     '    if ":" in member_id:', '    if False:',
     "tests/test_attack_actors.py -k refused_at_creation"),
    ("a skipped task is never told to the client", "chalicelib/recipients.py",
     '    return task.get("status") in ANSWERS and answered is not None \\\n'
     '        and answered["kind"] in (actors.SYSTEM, actors.OWNER) and answered["id"] == task.get("system_id")',
     '    return answered is not None and answered["kind"] != actors.SERVICE',
     "tests/test_attack_actors.py -k not_told"),
    ("a record rebuilt without the key does not verify", "chalicelib/request_record.py",
     "    if keys is not None and unkeyed:", "    if False:",
     "tests/test_attack_record.py -k recomputed"),
    ("a record cut back with its head is caught by the request's state", "chalicelib/request_record.py",
     "        if state is not None:\n            _check_state(entries, state)", "        pass",
     "tests/test_attack_record.py -k cut_back"),
    ("a record's first entry is checked against its request", "chalicelib/request_record.py",
     "        _check_first(entries[0], first or {})", "        pass",
     "tests/test_attack_record.py -k changed_in_the_table"),
    ("webhook deliveries follow no redirect", "chalicelib/webhooks.py",
     "        if 300 <= status < 400:", "        if False:",
     "tests/test_webhooks.py -k redirect"),
    ("webhook URLs can't reach private addresses", "chalicelib/webhooks.py",
     '        if hit:\n            return f"a {what} address"', '        if False:\n            return f"a {what} address"',
     "tests/test_webhooks.py -k private"),
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
