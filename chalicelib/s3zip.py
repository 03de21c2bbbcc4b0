"""A zip archive streamed into S3 as a multipart upload, resumable from its last uploaded part.

Memory stays flat: members are read from S3 as streams (1 MiB chunks) and the archive is held one part at a
time (uploaded from its buffer, not copied), so peak memory is about one part and a chunk whatever the
archive's size: 10.5 MiB measured with 8 MiB parts, for 20 MiB of documents as for 200 MiB. Documents are
*stored* (they are mostly PDFs and images, already compressed: deflating them again costs CPU for nothing);
the small files the caller hands over whole (data.json, data.csv) are deflated. Zip64 is used where a size or an offset needs it.

**Why the stdlib's zipfile and not a streaming-zip library.** stream-zip (uktrade, 0.0.84) was evaluated first,
as a well-kept library beats a hand-written one. It can't do what this module must: (1) its whole state — the
offset, the central directory — lives in one generator's locals, so a Lambda slice that stops can't hand it to
the next one: every slice would restart at byte 0 and read every document again; (2) it stores a member either
buffered whole in memory (NO_COMPRESSION_64) or only if its size *and CRC-32* are given up front
(NO_COMPRESSION_STREAMED_64), and a document's CRC is only known once it has been read; (3) it imports
pycryptodome (AES, compiled) at import time, weight every cold start would carry. zipstream-ng and zipfly have
the same one-generator design. So the zip structures come from CPython's `zipfile`, which is maintained, ships
with the runtime (nothing to package, nothing to load until an export runs) and is the reader the tests check
against: `ZipInfo.FileHeader` writes each local header and `ZipFile.close` writes the central directory and
the zip64 end records. The only bytes packed here are the 16- or 24-byte data descriptors. What is ours is the
resumption: a member's CRC-32 is a 32-bit running value and a stored member's bytes are its source's bytes, so
the stream can continue at any byte offset from a few numbers.

**Part size.** S3 allows at most 10,000 parts, each ≥ 5 MiB except the last. 8 MiB parts hold 78 GiB, over
the 50 GiB that is the largest plausible export, with room to spare; a bigger planned export gets bigger parts
(`part_size`), so no size is refused for want of parts. The part is the memory peak, so parts aren't larger.

**Resumption.** The caller's `save(state)` is called after every uploaded part (and once when the upload is
created, once when it is completed), with a small JSON-serialisable dict. A process killed anywhere resumes
from the last saved part: the members before it are never read again, and no part is uploaded twice except
the one in flight. What can't fit
in that dict goes to work objects under `work` (a prefix in the same bucket, deleted when the zip is done):
the manifest (one JSON line per member: name, source key, method), the deflated small files, the central
directory's numbers in chunks of CD_CHUNK members and the parts' ETags in chunks of ETAG_CHUNK parts. The saved
state holds fewer than CD_CHUNK central-directory records (4 integers each) and ETAG_CHUNK ETags besides a
dozen numbers: about 51 KB at the very most (every number at its widest), a few hundred bytes for most exports,
far below DynamoDB's 400 KB item. The central directory itself is rebuilt in memory by the last slice only
(one ZipInfo per member, about 0.5 KB each: 6 MB for 12,800 documents of 4 MiB, i.e. 50 GiB).
A zip small enough for one part never creates an upload or work objects: it is written with one PutObject.

If the upload disappears (an erasure aborted it via `discard`, or the bucket's lifecycle rule did), or a
source vanished or changed, the build starts again from a fresh plan: the archive always shows one moment's data.
"""
import io
import json
import math
import struct
import zlib
from dataclasses import dataclass, field
from typing import Callable

from botocore.exceptions import ClientError

from . import aws

MIB = 1024 * 1024
MIN_PART = 5 * MIB  # S3: every part but the last
MAX_PARTS = 10_000  # S3
PART_SIZE = 8 * MIB
MAX_PART_SIZE = 5 * 1024 * MIB  # S3
READ_CHUNK = MIB
CD_CHUNK = 500  # central-directory records per work object
ETAG_CHUNK = 500  # part ETags per work object
VERSION = 1
STORED, DEFLATED = 0, 8
_DESCRIPTOR_FLAG = 0x08
_MEMBER_OVERHEAD = 200  # local header + descriptor + central entry, besides the name: for planning only


class ExportTooLarge(Exception):
    pass


@dataclass
class Plan:
    """What the archive holds, decided once: `stored` as (name, S3 key, declared size) in order, then `deflated`
    (name → bytes, small: held in memory at planning). `time` is every member's modification time."""
    stored: list[tuple[str, str, int]]
    deflated: dict[str, bytes]
    time: tuple
    meta: dict = field(default_factory=dict)  # returned with the result (counts)


def part_size(planned_bytes: int) -> int:
    """PART_SIZE, or more when the archive wouldn't fit 9,000 parts (a tenth kept for sizes declared low)."""
    needed = math.ceil(planned_bytes / (MAX_PARTS * 9 // 10) / MIB) * MIB
    return min(max(PART_SIZE, needed), MAX_PART_SIZE)


def write(*, bucket: str, key: str, work: str, state: dict | None, make_plan: Callable[[], Plan],
          save: Callable[[dict], None], should_stop: Callable[[], bool], headers: dict) -> dict | None:
    """Write (or go on writing) the archive to s3://bucket/key; `headers` go to the object (SSE, Content-Type).

    Returns {"bytes": size, **plan.meta} once the object is complete, or None when `should_stop()` said to stop
    after a part (the state to resume from was saved). A state of another format is discarded first."""
    for _attempt in range(3):
        if state and state.get("v") == VERSION:
            job = _Job(bucket, key, work, state, None, save, should_stop, headers)
        else:
            if state:
                discard(bucket, key, work, state)
            plan = make_plan()
            job = _Job(bucket, key, work, _fresh_state(plan, work), plan, save, should_stop, headers)
        try:
            return job.run()
        except _Stopped:
            return None
        except _Restart:
            discard(bucket, key, work, job.saved)
            state = None
    raise RuntimeError("the export's sources kept changing while it was written; execute again")


def discard(bucket: str, key: str, work: str, state: dict | None) -> bool:
    """Abort the state's upload and delete its work objects (idempotent); True if there was an upload."""
    if not state or state.get("v") != VERSION or state.get("done"):
        return False
    s3 = aws.s3()
    aborted = False
    if state.get("upload"):
        try:
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=state["upload"])
            aborted = True
        except ClientError as exc:
            if _code(exc) != "NoSuchUpload":
                raise
    _delete_work(bucket, work, state, slack=1)
    return aborted


# --- internals --------------------------------------------------------------------------------------------------

class _Stopped(Exception):
    pass


class _Restart(Exception):
    pass


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _fresh_state(plan: Plan, work: str) -> dict:
    planned = sum(size + len(name) + _MEMBER_OVERHEAD for name, _, size in plan.stored)
    planned += sum(len(data) + len(name) + _MEMBER_OVERHEAD for name, data in plan.deflated.items())
    size = part_size(planned)
    if size < MIN_PART:  # PART_SIZE is a module constant: a test or an edit could set it too low
        raise ValueError(f"parts must be at least {MIN_PART} bytes (S3), not {size}")
    return {"v": VERSION, "time": list(plan.time), "meta": plan.meta, "part_size": size,
            "count": len(plan.stored) + len(plan.deflated), "deflated": len(plan.deflated), "upload": None, "parts": 0,
            "member": 0, "line": 0, "at": 0, "etag": None, "size": None, "crc": 0, "cd": [], "etags": []}


def _work_keys(work: str, state: dict, slack: int = 0) -> list[str]:
    keys = [work + "manifest"] + [work + f"deflated-{i}" for i in range(state["deflated"])]
    keys += [work + f"cd-{j}" for j in range(state["member"] // CD_CHUNK + slack)]
    keys += [work + f"etags-{j}" for j in range(state["parts"] // ETAG_CHUNK + slack)]
    return keys


def _delete_work(bucket: str, work: str, state: dict, slack: int = 0) -> None:
    # Deterministic names, so no ListBucket permission is needed. `slack`: a chunk written just before a crash,
    # ahead of the saved state, holds numbers only (no personal data) and expires with the bucket's rule anyway.
    keys = _work_keys(work, state, slack)
    for start in range(0, len(keys), 1000):
        aws.s3().delete_objects(Bucket=bucket, Delete={"Quiet": True, "Objects": [
            {"Key": k} for k in keys[start:start + 1000]]})


def _manifest(plan: Plan, work: str) -> tuple[list[list], dict[str, bytes]]:
    """Rows [name, source key, method, crc, compressed size, size] (the numbers known only for deflated
    members), and the deflated bytes by the work key they are staged at."""
    rows = [[name, source, STORED, None, None, None] for name, source, _ in plan.stored]
    blobs = {}
    for index, (name, data) in enumerate(plan.deflated.items()):
        staged = work + f"deflated-{index}"
        blobs[staged] = _deflate(data)
        rows.append([name, staged, DEFLATED, zlib.crc32(data), len(blobs[staged]), len(data)])
    return rows, blobs


def _deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)  # as zipfile does
    return packer.compress(data) + packer.flush()


def _zip64(size: int) -> bool:
    import zipfile

    return size > zipfile.ZIP64_LIMIT  # read at call time: the tests lower it to exercise zip64 cheaply


def _info(name: str, method: int, time: tuple, crc: int, csize: int, size: int, offset: int):
    import zipfile

    info = zipfile.ZipInfo(name, date_time=time)
    info.compress_type = method
    info.external_attr = 0o600 << 16  # rw for the owner, as ZipFile.writestr gives
    info.flag_bits = _DESCRIPTOR_FLAG if method == STORED else 0  # stored: CRC known only after the bytes
    info.CRC, info.compress_size, info.file_size, info.header_offset = crc, csize, size, offset
    return info


def _descriptor(crc: int, size: int) -> bytes:
    if _zip64(size):
        return struct.pack("<4sLQQ", b"PK\x07\x08", crc, size, size)
    return struct.pack("<4sLLL", b"PK\x07\x08", crc, size, size)


class _Sink:
    """What ZipFile writes the central directory into: our stream, at the right offset (tell), unseekable."""

    def __init__(self, job):
        self.job = job

    def write(self, data) -> int:
        self.job.emit(data)
        return len(data)

    def tell(self) -> int:
        return self.job.pos

    def flush(self) -> None:
        pass


class _Job:
    def __init__(self, bucket, key, work, state, plan, save, should_stop, headers):
        self.bucket, self.key, self.work, self.headers = bucket, key, work, headers
        self.saved = state  # the last saved state: what a crash resumes from
        self.plan, self.save_state, self.should_stop = plan, save, should_stop
        self.s3 = aws.s3()
        self.part_size = state["part_size"]
        self.time = tuple(state["time"])
        self.parts = self.saved_parts_at_start = state["parts"]
        self.skip_to = self.parts * self.part_size  # bytes below this were uploaded before: they are dropped
        self.pos = state["at"]  # the stream restarts where the member (or the central directory) being written began
        self.buf = bytearray()
        self.cd = [list(r) for r in state["cd"]]  # records of members [cd_base, member)
        self.etags = list(state["etags"])  # ETags of parts [etag_base + 1, parts]
        # From a fresh plan: the manifest and the deflated files, in memory until the first part is uploaded.
        self.rows, self.blobs = _manifest(plan, work) if plan else (None, {})
        # the member being written: index, manifest line offset, header offset, source etag and size, CRC
        self.member, self.line, self.at = state["member"], state["line"], state["at"]
        self.etag, self.size, self.crc = state["etag"], state["size"], state["crc"]

    # -- the stream --------------------------------------------------------------------------------------------

    def run(self) -> dict:
        if self.saved.get("done"):
            return self._result()
        if self.saved.get("final") is None:
            if self.member < self.saved["count"]:
                resuming = self.skip_to > self.at
                for index, line, row in self._rows_from(self.member, self.line):
                    # Between parts too: many small documents can make a part slow to fill. What the buffer
                    # holds is redone by the next slice; only after a part of its own, so every slice progresses.
                    if self.parts > self.saved_parts_at_start and self.should_stop():
                        raise _Stopped()
                    self.member, self.line, self.at = index, line, self.pos
                    if not resuming:
                        self.etag = self.size = None
                        self.crc = 0
                    self._member(row, resuming)
                    resuming = False
                self.member = self.saved["count"]
            self.at = self.pos
            self._tail()
            self._last_part()
        self._complete()
        return self._result()

    def _member(self, row, resuming: bool) -> None:
        name, source, method, crc, csize, size = row
        body = None
        try:
            if method == STORED:
                if not resuming:  # the size decides the header (zip64 or not): open the source first
                    body, self.size, self.etag = self._open(source)
                csize = size = self.size
            header = _info(name, method, self.time, crc or 0, csize, size, self.at).FileHeader(_zip64(csize))
            data_start = self.at + len(header)
            done = min(max(self.skip_to - data_start, 0), csize)  # data bytes already uploaded
            if done == 0:
                self.crc = 0
            self.emit(header)
            self.pos = max(self.pos, data_start + done)  # those bytes are neither read again nor emitted
            if done < csize:
                body = body or self._source(source, done, self.etag)
                for chunk in _chunks(body):
                    self.emit(chunk, data=method == STORED)  # a deflated member's CRC is of its inflated bytes
        finally:
            if hasattr(body, "close"):  # a slice may stop in the middle of a member
                body.close()
        if self.pos != data_start + csize:
            raise _Restart()  # the source's length changed under us
        if method == STORED:
            self.emit(_descriptor(self.crc, size))
            crc = self.crc
        self.cd.append([crc, csize, size, self.at])

    def emit(self, chunk, data: bool = False) -> None:
        """Append to the stream; bytes below skip_to were uploaded before (regenerated headers, central
        directory) and are dropped. A part is uploaded the moment it is full, so the state saved with it is
        exactly the state at its last byte (the CRC included: chunks are split at part boundaries)."""
        view = memoryview(chunk)
        while view:
            if self.pos < self.skip_to:
                n = min(len(view), self.skip_to - self.pos)
                self.pos += n
                view = view[n:]
                continue
            n = min(len(view), self.part_size - len(self.buf))
            piece = view[:n]
            if data:
                self.crc = zlib.crc32(piece, self.crc)
            self.buf += piece
            self.pos += n
            view = view[n:]
            if len(self.buf) == self.part_size:
                self._part()

    def _tail(self) -> None:
        import zipfile

        infos = [_info(row[0], row[2], self.time, *record)
                 for (_index, _line, row), record in zip(self._rows_from(0, 0), self._records(), strict=True)]
        archive = zipfile.ZipFile(_Sink(self), "w")
        archive.filelist.extend(infos)  # members were written above; ZipFile writes their central directory
        archive.close()

    # -- S3 --------------------------------------------------------------------------------------------------

    def _open(self, source: str):
        """(chunks, size, etag) of a stored member's source from its first byte."""
        try:
            answer = self.s3.get_object(Bucket=self.bucket, Key=source)
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "PreconditionFailed"):
                raise _Restart() from exc
            raise
        return answer["Body"], answer["ContentLength"], answer["ETag"]

    def _source(self, source: str, start: int, etag: str | None):
        if source in self.blobs:
            return io.BytesIO(memoryview(self.blobs[source])[start:])
        args = {"Bucket": self.bucket, "Key": source}
        if start:
            args["Range"] = f"bytes={start}-"
        if etag:
            args["IfMatch"] = etag  # the bytes before `start` came from this version
        try:
            answer = self.s3.get_object(**args)
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "PreconditionFailed", "InvalidRange"):
                raise _Restart() from exc
            raise
        return answer["Body"]

    def _part(self) -> None:
        if self.saved["upload"] is None:
            self._create_upload()
        number = self.parts + 1
        self.etags.append(self._upload(number, last=False))
        self.parts = number
        self.buf = bytearray()
        self._save()
        if self.should_stop():
            raise _Stopped()

    def _upload(self, number: int, last: bool) -> str:
        if number > MAX_PARTS:
            raise ExportTooLarge(f"the archive needs more than {MAX_PARTS} parts of {self.part_size} bytes")
        if len(self.buf) < MIN_PART and not last:
            raise ValueError(f"part {number} has {len(self.buf)} bytes: S3 needs {MIN_PART} in every part but the last")
        try:
            answer = self.s3.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.saved["upload"],
                                         PartNumber=number, Body=self.buf)
        except ClientError as exc:
            if _code(exc) == "NoSuchUpload":
                raise _Restart() from exc
            raise
        return answer["ETag"]

    def _create_upload(self) -> None:
        """The first part is full: the plan must now outlive this process, so it goes to S3 first."""
        for row, blob in ((r, self.blobs.get(r[1])) for r in self.rows):
            if blob is not None:
                self._put(row[1], blob)
        self._put(self.work + "manifest", b"".join(_line(row) for row in self.rows))
        answer = self.s3.create_multipart_upload(Bucket=self.bucket, Key=self.key, **self.headers)
        self.saved = dict(self.saved, upload=answer["UploadId"])
        self.save_state(dict(self.saved))  # so a crash now leaves no upload that nothing knows about

    def _put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ServerSideEncryption="AES256")

    def _save(self, **extra) -> None:
        cd_base = self.member - len(self.cd)
        while len(self.cd) >= CD_CHUNK:
            self._put(self.work + f"cd-{cd_base // CD_CHUNK}", json.dumps(self.cd[:CD_CHUNK]).encode())
            self.cd, cd_base = self.cd[CD_CHUNK:], cd_base + CD_CHUNK
        etag_base = self.parts - len(self.etags)
        while len(self.etags) >= ETAG_CHUNK:
            self._put(self.work + f"etags-{etag_base // ETAG_CHUNK}", json.dumps(self.etags[:ETAG_CHUNK]).encode())
            self.etags, etag_base = self.etags[ETAG_CHUNK:], etag_base + ETAG_CHUNK
        self.saved = dict(self.saved, parts=self.parts, member=self.member, line=self.line, at=self.at,
                          etag=self.etag, size=self.size, crc=self.crc, cd=[list(r) for r in self.cd],
                          etags=list(self.etags), **extra)
        self.save_state(dict(self.saved))

    def _last_part(self) -> None:
        total = self.pos
        if self.saved["upload"] is None:  # the whole archive fit in one part
            self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self.buf), **self.headers)
            self.saved = dict(self.saved, done=True, final=total)
            return
        if self.buf:
            self.etags.append(self._upload(self.parts + 1, last=True))
            self.parts += 1
        self.buf = bytearray()
        self._save(final=total)

    def _complete(self) -> None:
        if self.saved.get("done"):
            return
        total, parts = self.saved["final"], self.saved["parts"]
        etags = []
        for j in range((parts - len(self.etags)) // ETAG_CHUNK):
            etags += json.loads(self._get(self.work + f"etags-{j}"))
        etags += self.etags
        try:
            self.s3.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.saved["upload"],
                MultipartUpload={"Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, 1)]})
        except ClientError as exc:
            if _code(exc) != "NoSuchUpload":
                raise
            if not self._already_complete(total, parts):
                raise _Restart() from exc  # aborted meanwhile (an erasure, the lifecycle rule)
        self.saved = dict(self.saved, done=True, cd=[], etags=[])
        self.save_state(dict(self.saved))

    def _already_complete(self, total: int, parts: int) -> bool:
        """Completed by an attempt that died before saving it (S3 forgets a completed upload's id)."""
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=self.key)
        except ClientError:
            return False
        return head["ContentLength"] == total and head["ETag"].strip('"').endswith(f"-{parts}")

    def _result(self) -> dict:
        if self.saved.get("upload"):
            _delete_work(self.bucket, self.work, self.saved)
        return {"bytes": self.saved["final"], **self.saved["meta"]}

    def _get(self, key: str) -> bytes:
        try:
            return self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if _code(exc) == "NoSuchKey":  # work objects deleted: the export was discarded meanwhile
                raise _Restart() from exc
            raise

    # -- the manifest --------------------------------------------------------------------------------------

    def _rows_from(self, index: int, line: int):
        """(index, line offset, row) from member `index`, whose manifest line starts at byte `line`."""
        if self.rows is not None:
            offset = 0
            for i, row in enumerate(self.rows):
                if i >= index:
                    yield i, offset, row
                offset += len(_line(row))
            return
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.work + "manifest", Range=f"bytes={line}-")["Body"]
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "InvalidRange"):
                raise _Restart() from exc
            raise
        rest = b""
        for chunk in _chunks(body):  # one line at a time: the manifest grows with the documents
            rest += chunk
            *lines, rest = rest.split(b"\n")
            for text in lines:
                yield index, line, json.loads(text)
                index, line = index + 1, line + len(text) + 1

    def _records(self):
        """Every member's [crc, compressed size, size, offset], in order: work chunks, then the pending ones."""
        for j in range((self.member - len(self.cd)) // CD_CHUNK):
            yield from json.loads(self._get(self.work + f"cd-{j}"))
        yield from self.cd


def _line(row: list) -> bytes:
    return json.dumps(row).encode() + b"\n"  # ensure_ascii: no raw newline inside a line


def _chunks(body):
    """READ_CHUNK bytes at a time from a botocore StreamingBody or a file object."""
    try:
        while chunk := body.read(READ_CHUNK):
            yield chunk
    finally:
        body.close()
