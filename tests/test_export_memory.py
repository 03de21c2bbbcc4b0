"""Issue 8: an export's memory stays flat whatever the client's documents weigh.

Measured by devtools/export_memory.py in a child process against a moto server in another process, so the peak
(tracemalloc, around exports.build alone) is the export's own: moto's copies of the documents and of the zip
are elsewhere. 200 MiB of random documents, half of them in one 100 MiB document, take about 15 s.
"""
import hashlib
import zipfile

import pytest

from devtools import export_memory

MIB = 1024 * 1024
BUDGET_MIB = 32  # about 3x the measured peak (one 8 MiB part, a 1 MiB read, boto3), 1/3 of the largest document


@pytest.fixture(scope="module")
def export_200_mib(tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "export.zip"
    figures = export_memory.measure(200, str(path))
    return figures, path


def test_exporting_200_mib_of_documents_peaks_under_32_mib(export_200_mib):
    figures, _path = export_200_mib
    assert figures["documents_mib"] == 200 and max(export_memory.document_sizes(200)) == 100 * MIB
    assert figures["peak_mib"] < BUDGET_MIB, figures["peak_mib"]


def test_the_200_mib_export_holds_every_document_byte_for_byte(export_200_mib):
    figures, path = export_200_mib
    with zipfile.ZipFile(path) as archive:
        assert set(archive.namelist()) == set(figures["sha256"]) | {"data.json", "data.csv", "information.txt"}
        for name, expected in figures["sha256"].items():
            digest = hashlib.sha256()
            with archive.open(name) as member:  # read in chunks: the zip is larger than the budget
                while chunk := member.read(MIB):
                    digest.update(chunk)
            assert digest.hexdigest() == expected, name


def test_ten_times_the_documents_needs_no_more_memory(export_200_mib):
    small = export_memory.measure(20)
    assert small["documents_identical"]
    assert export_200_mib[0]["peak_mib"] <= 1.2 * small["peak_mib"], (small["peak_mib"], export_200_mib[0]["peak_mib"])
