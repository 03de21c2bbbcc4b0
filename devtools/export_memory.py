"""Peak memory of one export build, for a client with N MiB of documents (issue 8: "memory stays flat").

The documents and the zip live in a moto *server* in its own process, so what tracemalloc sees is this process
alone: the export code, boto3 and the HTTP bodies, as in the Lambda. (In-process moto would count moto's copy
of every document it serves and of the whole zip it assembles at CompleteMultipartUpload.) The measurement
itself runs in a fresh child process too, so its endpoint settings never meet the tests' in-process moto.

    .venv/bin/python -m devtools.export_memory --mib 200           # figures as `name: value` lines
    .venv/bin/python -m devtools.export_memory --mib 2100          # a 2 GiB client: zip64 for real (minutes)

Documents are random bytes (incompressible, like scans): half the total in one document (so no document is
ever small enough to be held whole unnoticed), the rest in 4 MiB documents, the largest the API accepts.
"""
import argparse
import hashlib
import json
import os
import pathlib
import random
import socket
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
CLIENT = "memory@client.example"


def document_sizes(mib: int) -> list[int]:
    big = mib // 2
    sizes, rest = [big * MIB] if big else [], (mib - big) * MIB
    while rest > 0:
        sizes.append(min(4 * MIB, rest))
        rest -= sizes[-1]
    return sizes


def measure(mib: int, zip_path: str | None = None) -> dict:
    """Run the measurement in a child process; returns its figures, the zip's path and the documents' SHA-256."""
    keep = zip_path is not None
    zip_path = zip_path or tempfile.mktemp(prefix="export-memory-", suffix=".zip")
    try:
        child = subprocess.run([sys.executable, "-m", "devtools.export_memory", "--mib", str(mib), "--zip",
                                zip_path, "--json"], cwd=ROOT, capture_output=True, text=True, timeout=1800)
        if child.returncode != 0:
            raise RuntimeError(f"export_memory --mib {mib} failed:\n{child.stderr[-4000:]}")
        figures = json.loads(child.stdout.strip().splitlines()[-1])
        if not keep:
            figures["documents_identical"] = verify(zip_path, figures["sha256"])
        return figures
    finally:
        if not keep and os.path.exists(zip_path):
            os.remove(zip_path)


def verify(zip_path: str, sha256: dict) -> bool:
    """Every document in the zip, byte for byte (hashed as it is read: the zip may be larger than memory)."""
    with zipfile.ZipFile(zip_path) as archive:
        for name, expected in sha256.items():
            digest = hashlib.sha256()
            with archive.open(name) as member:
                while chunk := member.read(MIB):
                    digest.update(chunk)
            if digest.hexdigest() != expected:
                return False
    return True


# --- the child --------------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_moto() -> tuple[subprocess.Popen, int]:
    from devtools.run_local import wait_for

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(f"http://127.0.0.1:{port}/moto-api/", 60)
    return server, port


def _seed(team_id: str, sizes: list[int]) -> dict:
    from chalicelib import aws, clock, config, ids
    from chalicelib.dossiers import document_key, team_email_key
    from chalicelib.models import DocumentRef, Dossier

    rng, stamp, refs, sha256 = random.Random(8), clock.iso(clock.now()), [], {}
    dossier_id = ids.new_id("d_")
    for index, size in enumerate(sizes):
        document_id = f"doc_{index:04d}"
        key = document_key(team_id, dossier_id, document_id)
        content = b"".join(rng.randbytes(min(64 * MIB, size - at)) for at in range(0, size, 64 * MIB))
        aws.s3().put_object(Bucket=config.get("DOCUMENTS_BUCKET"), Key=key, Body=content)
        sha256[f"documents/{dossier_id}/{document_id}-scan.pdf"] = hashlib.sha256(content).hexdigest()
        refs.append(DocumentRef(document_id=document_id, filename="scan.pdf", s3_key=key, size=size, uploaded_at=stamp))
        del content
    Dossier(team_id, dossier_id, team_email=team_email_key(team_id, CLIENT), client_email=CLIENT, title="Scans",
            fields={"name": "Client"}, consent=None, documents=refs, created_at=stamp, created_by="bench").save()
    return sha256


def child(mib: int, zip_path: str) -> dict:
    import gc
    import tracemalloc
    import types

    from devtools.stage_env import use_in_process_moto

    server, port = _start_moto()
    try:
        use_in_process_moto()  # the local stage's variables and fake credentials, then:
        os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        from chalicelib import aws, clock, config, exports, teams
        from devtools import stack

        stack.provision()
        team_id, _member = teams.create_team("Memory", "admin@memory.example", "Admin")
        sha256 = _seed(team_id, document_sizes(mib))
        item = types.SimpleNamespace(team_id=team_id, request_id="r_memory", email=CLIENT, type="access",
                                     received_at=clock.iso(clock.now()), locale=None, accept_language=None, regime=None)
        saves = []
        gc.collect()
        tracemalloc.start()
        started = time.perf_counter()
        result = exports.build(item, {}, lambda progress: saves.append(progress["zip"]["parts"]), lambda: False)
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        # One streamed GET: download_file's parallel ranged GETs each make moto read the whole object.
        body = aws.s3().get_object(Bucket=config.get("DOCUMENTS_BUCKET"),
                                   Key=exports.export_key(team_id, "r_memory"))["Body"]
        with open(zip_path, "wb") as out:
            for chunk in body.iter_chunks(8 * MIB):
                out.write(chunk)
        return {"peak_mib": round(peak / MIB, 1), "seconds": round(seconds, 1), "documents_mib": mib,
                "documents": len(sha256), "zip_bytes": result["bytes"], "saves": len(saves), "sha256": sha256}
    finally:
        server.terminate()
        server.wait(30)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=200, help="MiB of documents (default 200)")
    parser.add_argument("--zip", help="keep the zip at this path")
    parser.add_argument("--json", action="store_true", help="one JSON line (what measure() reads)")
    args = parser.parse_args(argv)
    if args.json:
        print(json.dumps(child(args.mib, args.zip)))
        return 0
    figures = measure(args.mib, args.zip)
    for name in ("peak_mib", "documents_mib", "documents", "zip_bytes", "seconds", "documents_identical"):
        if name in figures:
            print(f"export_{name}: {figures[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
