"""Issue 8, "any client, any size": the export streams into S3 part by part and can stop and go on in slices.

Parts are 5 MiB here (S3's minimum) so that a few MiB of documents make several parts; the memory budget is
checked against a real moto server in another process (test_export_memory.py), not in here.
"""
import io
import json
import random
import shutil
import subprocess
import zipfile

import pytest

from chalicelib import aws as clients
from chalicelib import actors, clock, config, exports, s3zip
from chalicelib import privacy_requests as pr
from devtools import iam

CLIENT = "alice@client.example"
MIB = 1024 * 1024


class Killed(Exception):
    """The process dying: raised from inside an S3 call, after S3 did its part."""


class WatchedS3:
    """The real S3 client; records each uploaded part's number and size, each GET, and can die after the Nth part."""

    def __init__(self, real, die_after_part: int | None = None):
        self.real, self.die_after_part, self.die_after_completing = real, die_after_part, False
        self.parts: list[tuple[int, int]] = []
        self.gets: list[tuple[str, str | None]] = []

    def __getattr__(self, name):
        return getattr(self.real, name)

    def upload_part(self, **kw):
        answer = self.real.upload_part(**kw)
        self.parts.append((kw["PartNumber"], len(kw["Body"])))
        if len(self.parts) == self.die_after_part:
            raise Killed()
        return answer

    def complete_multipart_upload(self, **kw):
        answer = self.real.complete_multipart_upload(**kw)
        if self.die_after_completing:
            raise Killed()
        return answer

    def get_object(self, **kw):
        self.gets.append((kw["Key"], kw.get("Range")))
        return self.real.get_object(**kw)


@pytest.fixture(autouse=True)
def built_by_the_worker(monkeypatch):
    """Builds and erasures here run as the execution worker does, under its role (restarts read work objects
    that may be gone: only s3:ListBucket makes that a NoSuchKey rather than AccessDenied on S3)."""
    for name in ("build", "erase_client_exports"):
        monkeypatch.setattr(exports, name, iam._as_function("execution_worker", getattr(exports, name)))


@pytest.fixture
def s3(monkeypatch, api):
    watched = WatchedS3(aws_s3())
    monkeypatch.setattr(clients, "s3", lambda: watched)
    return watched


def aws_s3():
    return clients.client("s3")


@pytest.fixture
def small_parts(monkeypatch):
    monkeypatch.setattr(s3zip, "PART_SIZE", s3zip.MIN_PART)


@pytest.fixture
def frozen_clock(monkeypatch):
    """Two builds of one request give the same bytes only if data.json says the same generated_at."""
    moment = clock.now()
    monkeypatch.setattr(clock, "now", lambda: moment)


def seed_documents(team, sizes: list[int], seed: int = 8) -> dict[str, bytes]:
    """One dossier of the client holding documents of these sizes (random bytes: incompressible, like scans);
    written straight to S3 and the dossier item, as the API caps an upload at 4 MiB. Returns path → bytes."""
    from chalicelib.dossiers import document_key
    from chalicelib.models import DocumentRef, Dossier

    dossier = Dossier.get(team.id, team.api.new_dossier(team, CLIENT)["dossier_id"])
    rng, refs, documents = random.Random(seed), [], {}
    for index, size in enumerate(sizes):
        document_id = f"doc_{index:04d}"
        key = document_key(team.id, dossier.dossier_id, document_id)
        content = rng.randbytes(size)
        aws_s3().put_object(Bucket=config.get("DOCUMENTS_BUCKET"), Key=key, Body=content)
        refs.append(DocumentRef(document_id=document_id, filename=f"scan {index}.pdf", s3_key=key, size=size,
                                uploaded_at=clock.iso(clock.now())))
        documents[f"documents/{dossier.dossier_id}/{document_id}-scan {index}.pdf"] = content
    dossier.update(actions=[Dossier.documents.set(refs)])
    return documents


@pytest.fixture
def client_team(api, team):
    team.api = api
    return team


def access_request(api, team):
    request_id = api.verified_request(team, CLIENT, "access")
    return pr.get_item(team.id, request_id, consistent=True)


def stored_zip(item) -> bytes:
    return aws_s3().get_object(Bucket=config.get("DOCUMENTS_BUCKET"),
                               Key=exports.export_key(item.team_id, item.request_id))["Body"].read()


def as_stored(progress: dict) -> dict:
    """What DynamoDB gives back: JSON in, JSON out."""
    return json.loads(json.dumps(progress))


def build_in_slices(item, progress: dict | None = None, stop=lambda: True):
    """Call build as the worker will: each slice from the progress last saved, until it returns a result."""
    saved, slices = [], 0
    progress = progress or {}
    while True:
        slices += 1
        assert slices <= 50, "the slices don't get anywhere"
        result = exports.build(item, progress, lambda p: saved.append(as_stored(p)), stop)
        if result is not None:
            return result, slices, saved
        progress = as_stored(saved[-1])


def header_bytes(documents: dict, *indexes: int) -> int:
    """What the zip writes around the documents at these indexes: local headers and data descriptors."""
    names = list(documents)
    return sum(30 + len(names[i].encode()) + 16 for i in indexes[:-1]) + 30 + len(names[indexes[-1]].encode())


def open_zip(body: bytes) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None  # every member's CRC checks out
    return archive


def uploads_in_progress() -> list:
    return aws_s3().list_multipart_uploads(Bucket=config.get("DOCUMENTS_BUCKET")).get("Uploads", [])


# --- what the zip holds -------------------------------------------------------------------------------------------

def test_documents_are_stored_as_they_are_and_the_data_files_deflated(api, client_team):
    documents = seed_documents(client_team, [20_000, 0])
    item = access_request(api, client_team)
    exports.build(item, {}, lambda p: None, lambda: False)
    archive = open_zip(stored_zip(item))
    kinds = {info.filename: info.compress_type for info in archive.infolist()}
    assert kinds == {**{path: zipfile.ZIP_STORED for path in documents},
                     "data.json": zipfile.ZIP_DEFLATED, "data.csv": zipfile.ZIP_DEFLATED,
                     "information.txt": zipfile.ZIP_DEFLATED}
    assert all(archive.read(path) == content for path, content in documents.items())


def test_a_zip_that_fits_one_part_is_written_with_one_put_and_no_work_objects(api, client_team, s3):
    seed_documents(client_team, [10_000])
    item = access_request(api, client_team)
    result = exports.build(item, {}, lambda p: None, lambda: False)
    assert s3.parts == [] and uploads_in_progress() == []
    assert api.s3_keys(exports.work_prefix(item.team_id, item.request_id)) == []
    assert result["bytes"] == len(stored_zip(item))


# --- parts ------------------------------------------------------------------------------------------------------

def test_every_part_but_the_last_has_at_least_5_mib(api, client_team, s3, small_parts):
    documents = seed_documents(client_team, [4 * MIB, 4 * MIB, 3 * MIB, 1234])
    item = access_request(api, client_team)
    result = exports.build(item, {}, lambda p: None, lambda: False)
    sizes = [size for _number, size in s3.parts]
    assert len(sizes) == 3 and [n for n, _ in s3.parts] == [1, 2, 3]
    assert all(size >= s3zip.MIN_PART for size in sizes[:-1]) and 0 < sizes[-1] < s3zip.MIN_PART
    assert sum(sizes) == result["bytes"]
    archive = open_zip(stored_zip(item))
    assert all(archive.read(path) == content for path, content in documents.items())


def test_parts_are_never_configured_below_s3s_5_mib(api, client_team, monkeypatch):
    monkeypatch.setattr(s3zip, "PART_SIZE", 4 * MIB)
    item = access_request(api, client_team)
    with pytest.raises(ValueError, match="at least"):
        exports.build(item, {}, lambda p: None, lambda: False)


def test_a_part_smaller_than_5_mib_is_refused_unless_it_is_the_last():
    job = s3zip._Job.__new__(s3zip._Job)
    job.buf, job.part_size = bytearray(s3zip.MIN_PART - 1), s3zip.MIN_PART
    with pytest.raises(ValueError, match="every part but the last"):
        job._upload(2, last=False)


def test_8_mib_parts_hold_a_50_gib_export_within_s3s_10000_parts():
    fifty_gib = 50 * 1024 * MIB
    assert s3zip.part_size(fifty_gib) == 8 * MIB
    assert fifty_gib / (8 * MIB) <= 0.9 * s3zip.MAX_PARTS


def test_a_larger_export_gets_larger_parts_rather_than_too_many():
    for gib in (100, 500, 5000):
        size = s3zip.part_size(gib * 1024 * MIB)
        assert size % MIB == 0 and gib * 1024 * MIB / size <= 0.9 * s3zip.MAX_PARTS, gib


# --- slices and crashes -----------------------------------------------------------------------------------------

SIZES = [3 * MIB, 5 * MIB, 2 * MIB + 17, 40, 4 * MIB]  # about 14 MiB: three parts, boundaries inside documents


def test_stopping_after_every_part_gives_the_same_zip_as_one_uninterrupted_run(api, client_team, s3, small_parts,
                                                                               frozen_clock):
    documents = seed_documents(client_team, SIZES)
    item = access_request(api, client_team)
    exports.build(item, {}, lambda p: None, lambda: False)
    whole = stored_zip(item)
    s3.parts.clear()

    result, slices, saved = build_in_slices(item)

    assert stored_zip(item) == whole
    assert slices == len(s3.parts) == 3  # one part per slice, the last one completes
    assert [n for n, _ in s3.parts] == [1, 2, 3]  # nothing uploaded twice
    assert result == {"dossiers": 1, "documents": len(SIZES), "bytes": len(whole)}
    archive = open_zip(whole)
    assert all(archive.read(path) == content for path, content in documents.items())


def test_a_slice_whose_time_runs_out_between_parts_stops_before_its_next_document(api, client_team, s3,
                                                                                  small_parts, frozen_clock):
    seed_documents(client_team, [MIB] * 14)  # 14 documents of 1 MiB: a part spans several of them
    item = access_request(api, client_team)
    exports.build(item, {}, lambda p: None, lambda: False)
    whole = stored_zip(item)
    s3.parts.clear()
    answers = iter([False, True] * 10)  # the part's own check says go on, the next document's says stop

    _result, slices, saved = build_in_slices(item, stop=lambda: next(answers))

    assert stored_zip(item) == whole
    assert slices == 3  # parts 1 and 2 each in a slice of their own, part 3 (the last) completes
    assert [n for n, _ in s3.parts] == [1, 2, 3]


def test_a_slice_that_stops_saves_its_progress_after_every_part(api, client_team, s3, small_parts):
    seed_documents(client_team, SIZES)
    item = access_request(api, client_team)
    _result, _slices, saved = build_in_slices(item)
    after_parts = [p["zip"]["parts"] for p in saved]
    assert set(range(1, 4)) <= set(after_parts)  # each part's number was saved once it was up
    assert all(p["export_key"] == exports.export_key(item.team_id, item.request_id) for p in saved)


def test_a_build_killed_after_an_upload_resumes_from_its_last_saved_part(api, client_team, s3, small_parts,
                                                                         frozen_clock):
    documents = seed_documents(client_team, SIZES)
    item = access_request(api, client_team)
    exports.build(item, {}, lambda p: None, lambda: False)
    whole = stored_zip(item)
    s3.parts.clear()
    s3.die_after_part = 2  # part 2 reached S3, but the process died before saving that it had

    saved = []
    with pytest.raises(Killed):
        exports.build(item, {}, lambda p: saved.append(as_stored(p)), lambda: False)
    assert saved[-1]["zip"]["parts"] == 1
    s3.gets.clear()
    exports.build(item, as_stored(saved[-1]), lambda p: saved.append(as_stored(p)), lambda: False)

    assert stored_zip(item) == whole
    assert [n for n, _ in s3.parts] == [1, 2, 2, 3]  # only the part in flight went up twice
    read_again = {key.rsplit("/", 1)[1]: rng for key, rng in s3.gets if "/documents/" in key}
    assert "doc_0000" not in read_again  # all of it was in part 1
    assert read_again["doc_0001"] == f"bytes={2 * MIB - header_bytes(documents, 0, 1)}-"  # from where part 1 ended
    archive = open_zip(whole)
    assert all(archive.read(path) == content for path, content in documents.items())


def test_a_build_killed_once_s3_completed_the_zip_finishes_without_starting_over(api, client_team, s3,
                                                                                 small_parts, frozen_clock):
    seed_documents(client_team, SIZES)
    item = access_request(api, client_team)
    exports.build(item, {}, lambda p: None, lambda: False)
    whole = stored_zip(item)
    s3.parts.clear()
    s3.die_after_completing, saved = True, []
    with pytest.raises(Killed):
        exports.build(item, {}, lambda p: saved.append(as_stored(p)), lambda: False)
    s3.die_after_completing = False

    result = exports.build(item, as_stored(saved[-1]), lambda p: None, lambda: False)

    assert result["bytes"] == len(whole) and stored_zip(item) == whole
    assert [n for n, _ in s3.parts] == [1, 2, 3]  # S3 forgot the upload's id; the object told it was done
    assert api.s3_keys(exports.work_prefix(item.team_id, item.request_id)) == []


def test_an_export_that_would_need_more_than_10000_parts_fails_rather_than_upload_a_broken_zip(
        api, client_team, small_parts, monkeypatch):
    monkeypatch.setattr(s3zip, "MAX_PARTS", 2)  # 10,000 parts of 5 MiB, in miniature
    monkeypatch.setattr(s3zip, "part_size", lambda planned: s3zip.MIN_PART)  # as if the sizes were declared low
    seed_documents(client_team, SIZES)
    item = access_request(api, client_team)
    with pytest.raises(s3zip.ExportTooLarge):
        exports.build(item, {}, lambda p: None, lambda: False)


def test_a_finished_export_leaves_no_upload_and_no_work_object(api, client_team, s3, small_parts):
    seed_documents(client_team, SIZES)
    item = access_request(api, client_team)
    build_in_slices(item)
    assert uploads_in_progress() == []
    assert api.s3_keys(exports.work_prefix(item.team_id, item.request_id)) == []


def test_progress_holds_at_most_one_chunk_of_records_and_etags(api, client_team, s3, monkeypatch):
    monkeypatch.setattr(s3zip, "PART_SIZE", s3zip.MIN_PART)
    monkeypatch.setattr(s3zip, "CD_CHUNK", 3)
    monkeypatch.setattr(s3zip, "ETAG_CHUNK", 2)
    documents = seed_documents(client_team, [MIB + 7] * 17)  # 17 MiB, 19 members: 4 parts
    item = access_request(api, client_team)
    _result, slices, saved = build_in_slices(item)
    assert slices == 4
    assert all(len(p["zip"]["cd"]) < 3 and len(p["zip"]["etags"]) < 2 for p in saved)
    archive = open_zip(stored_zip(item))
    assert all(archive.read(path) == content for path, content in documents.items())


def test_the_saved_progress_stays_far_below_dynamodbs_400_kb_item():
    """The largest state: a full chunk of central-directory records and of ETags, every number at its widest."""
    widest = {"v": 1, "time": [2026, 12, 31, 23, 59, 59], "meta": {"dossiers": 10**6, "documents": 10**6},
              "part_size": s3zip.MAX_PART_SIZE, "count": 10**6, "deflated": 2, "upload": "u" * 1024,
              "parts": s3zip.MAX_PARTS, "member": 10**6, "line": 2**40, "at": 2**46, "etag": '"' + "f" * 40 + '"',
              "size": 2**40, "crc": 2**32 - 1, "final": 2**46, "done": True,
              "cd": [[2**32 - 1, 2**40, 2**40, 2**46]] * (s3zip.CD_CHUNK - 1),
              "etags": ['"' + "f" * 32 + '"'] * (s3zip.ETAG_CHUNK - 1)}
    progress = {"export_key": "exports/t_" + "x" * 40 + "/r_" + "x" * 40 + ".zip", "zip": widest}
    assert len(json.dumps(progress)) < 64 * 1024


# --- zip64 --------------------------------------------------------------------------------------------------------

def test_sizes_and_offsets_past_the_zip64_limit_make_a_valid_zip64_archive(api, client_team, s3, small_parts,
                                                                           monkeypatch, tmp_path):
    """A 2 GiB client in miniature: zipfile's limit lowered to 1 MiB for the build, so a 3 MiB document and every
    offset past 1 MiB need zip64 (devtools/export_memory.py --mib 2100 runs the real size)."""
    documents = seed_documents(client_team, [3 * MIB, 2 * MIB, 100])
    item = access_request(api, client_team)
    with monkeypatch.context() as patch:
        patch.setattr(zipfile, "ZIP64_LIMIT", MIB)
        exports.build(item, {}, lambda p: None, lambda: False)
    body = stored_zip(item)
    assert b"PK\x06\x06" in body[-200:] and b"PK\x06\x07" in body[-200:]  # zip64 end record and locator
    archive = open_zip(body)
    assert all(archive.read(path) == content for path, content in documents.items())
    if shutil.which("unzip"):  # a second, independent reader (Info-ZIP)
        (tmp_path / "export.zip").write_bytes(body)
        checked = subprocess.run(["unzip", "-tq", str(tmp_path / "export.zip")], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_multi_part_export_passes_an_independent_zip_reader(api, client_team, s3, small_parts, tmp_path):
    if not shutil.which("unzip"):
        pytest.skip("Info-ZIP's unzip is not installed")
    seed_documents(client_team, SIZES)
    item = access_request(api, client_team)
    build_in_slices(item)
    (tmp_path / "export.zip").write_bytes(stored_zip(item))
    checked = subprocess.run(["unzip", "-tq", str(tmp_path / "export.zip")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


# --- erasure meanwhile, restarts ----------------------------------------------------------------------------------

def test_an_erasure_aborts_an_unfinished_exports_upload_and_deletes_its_work_objects(api, client_team, s3,
                                                                                    small_parts):
    seed_documents(client_team, SIZES)
    item = access_request(api, client_team)
    pr.start(item, actors.member("officer"))
    assert exports.build(item, {}, lambda p: pr.record_progress(item, p), lambda: True) is None
    work = exports.work_prefix(item.team_id, item.request_id)
    assert len(uploads_in_progress()) == 1 and api.s3_keys(work)

    assert exports.erase_client_exports(client_team.id, CLIENT) == 1
    assert uploads_in_progress() == []
    assert api.s3_keys(work) == []


def test_an_export_resumed_after_its_upload_was_aborted_starts_over_from_current_data(api, client_team, s3,
                                                                                    small_parts):
    documents = seed_documents(client_team, SIZES)
    item = access_request(api, client_team)
    saved = []
    exports.build(item, {}, lambda p: saved.append(as_stored(p)), lambda: True)
    s3zip.discard(config.get("DOCUMENTS_BUCKET"), exports.export_key(item.team_id, item.request_id),
                  exports.work_prefix(item.team_id, item.request_id), saved[-1]["zip"])
    api.new_dossier(client_team, CLIENT, title="Opened since")

    result = exports.build(item, as_stored(saved[-1]), lambda p: saved.append(as_stored(p)), lambda: False)

    assert result["dossiers"] == 2  # a new plan: the archive shows one moment, today's
    archive = open_zip(stored_zip(item))
    assert all(archive.read(path) == content for path, content in documents.items())
    assert uploads_in_progress() == []


def test_the_worker_carries_a_large_export_over_slices_of_one_part_each(api, client_team, small_parts):
    documents = seed_documents(client_team, SIZES)
    request_id = api.verified_request(client_team, CLIENT, "access")
    answer = api.post(f"/teams/{client_team.id}/privacy/requests/{request_id}/execute", {"confirm": True},
                      token=client_team.token)
    assert answer.status_code == 202, answer.body

    outcomes = api.work(runtime_ms=1)  # no time to spare: every slice stops after its first part

    assert outcomes == ["continued", "continued", "completed"]
    item = pr.get_item(client_team.id, request_id, consistent=True)
    assert item.status == pr.COMPLETED and item.result["documents"] == len(SIZES)
    archive = open_zip(stored_zip(item))
    assert all(archive.read(path) == content for path, content in documents.items())
