"""A short headless run of load_tests/locustfile.py against the live server, as CI's smoke test.

It runs the same locustfile a real load test does (4 users, 10 s), so a change to the API that
breaks the traffic mix, or a server that fails under concurrency, fails here. The intended
invalid requests count as successes when they get their 400.
"""

import csv
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]
LOCUSTFILE = ROOT / "load_tests" / "locustfile.py"
USERS = 4
TTS_ROWS = ("json + timestamps", "long stream", "medium stream mp3/aac", "form stream")


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_locust_smoke_run_has_no_failures(server, tmp_path):
    prefix = tmp_path / "smoke"
    command = [
        str(Path(sys.executable).parent / "locust"),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        server,
        "--users",
        str(USERS),
        "--spawn-rate",
        "2",
        "--run-time",
        "10s",
        # Let requests still in flight at the end finish (and be checked) rather than be cut.
        "--stop-timeout",
        "30",
        "--csv",
        str(prefix),
        "--only-summary",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, cwd=ROOT)
    print(result.stdout[-4000:], result.stderr[-4000:], sep="\n")
    assert result.returncode == 0, "locust reported failures or errors (its exit code)"

    stats = {row["Name"]: row for row in read_rows(Path(f"{prefix}_stats.csv"))}
    total = stats["Aggregated"]
    assert int(total["Failure Count"]) == 0
    assert float(total["Requests/s"]) > 0
    assert float(total["95%"]) > 0, "no p95 in the stats"
    assert float(total["50%"]) <= float(total["95%"])

    invalid = stats["invalid (expects 400)"]
    assert int(invalid["Request Count"]) >= USERS, "each user sends an invalid request when it starts"
    assert int(invalid["Failure Count"]) == 0

    spoken = sum(int(stats[name]["Request Count"]) for name in TTS_ROWS if name in stats)
    assert spoken >= 1, f"no speech request completed in the run: {sorted(stats)}"
    assert read_rows(Path(f"{prefix}_failures.csv")) == []
    assert read_rows(Path(f"{prefix}_exceptions.csv")) == []
