"""Generate a deterministic, realistic cohort of interview facts.

Every industry, stage and channel appears; interviews fall in ordinary weeks
and in public-holiday windows (Christmas and New Year, US Thanksgiving,
Easter, Japan's Golden Week); optional facts are missing at realistic rates.
The same ``--seed`` and ``--n`` always give the same bytes.

    python benchmarks/gen_cohort.py --n 1000000 -o cohort.jsonl
    python benchmarks/gen_cohort.py --n 1000 -o cohort.csv        # or .parquet
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

from followup.engine import FACT_KINDS

INDUSTRIES = (
    "tech_startup", "technology", "retail", "hospitality", "finance",
    "healthcare", "government", "education", "construction", "other",
)  # fmt: skip
STAGES = ("first", "intermediate", "final")
CHANNELS = ("email", "phone", "linkedin")
PLACES = (
    ("US", "America/New_York"),
    ("US", "America/Los_Angeles"),
    ("GB", "Europe/London"),
    ("DE", "Europe/Berlin"),
    ("FR", "Europe/Paris"),
    ("JP", "Asia/Tokyo"),
    ("IN", "Asia/Kolkata"),
    ("AU", "Australia/Sydney"),
    ("CA", "America/Toronto"),
    ("BR", "America/Sao_Paulo"),
)
MATERIALS = ("references", "portfolio", "writing sample", "transcript", "certificates")
COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka")
ROLES = ("Analyst", "Engineer", "Designer", "Nurse", "Teacher", "Site Manager", "Chef", "Clerk")
FIRST = ("Ana", "Ben", "Chloé", "Dev", "Emeka", "Fatima", "Gustav", "Hana", "Ivan", "Jia")
LAST = ("Silva", "Okafor", "Müller", "Sato", "Patel", "Smith", "Dubois", "Kowalski")

#: The evaluation date the cohort is built around (pass it as --as-of).
AS_OF = date(2026, 1, 12)

# Interview dates: most in the 8 weeks before AS_OF, some in holiday windows.
_HOLIDAY_WINDOWS = (
    (date(2025, 12, 18), date(2026, 1, 6)),  # Christmas and New Year
    (date(2025, 11, 24), date(2025, 12, 1)),  # US Thanksgiving
    (date(2025, 4, 14), date(2025, 4, 23)),  # Easter
    (date(2025, 4, 28), date(2025, 5, 7)),  # Golden Week
)

COLUMNS = tuple(FACT_KINDS)


def _interview(rng: random.Random) -> date:
    if rng.random() < 0.3:
        start, end = rng.choice(_HOLIDAY_WINDOWS)
        return start + timedelta(days=rng.randrange((end - start).days + 1))
    return AS_OF - timedelta(days=rng.randrange(0, 56))


def _moment(rng: random.Random, day: date) -> str:
    if rng.random() < 0.3:
        return day.isoformat()
    return datetime(
        day.year, day.month, day.day, rng.randrange(8, 18), rng.choice((0, 15, 30, 45))
    ).isoformat()


def applicant(i: int, rng: random.Random) -> dict[str, Any]:
    """The facts of applicant number ``i`` (missing facts are absent keys)."""
    country, zone = rng.choice(PLACES)
    day = _interview(rng)
    facts: dict[str, Any] = {
        "applicant_id": f"A{i:08d}",
        "candidate_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
        "company": rng.choice(COMPANIES),
        "role": rng.choice(ROLES),
        "interview_at": _moment(rng, day),
        "industry": INDUSTRIES[i % len(INDUSTRIES)] if i < 100 else rng.choice(INDUSTRIES),
        "stage": rng.choice(STAGES),
    }

    def maybe(p: float, key: str, value: Any) -> None:
        if rng.random() < p:
            facts[key] = value

    maybe(0.9, "interviewer_name", f"{rng.choice(FIRST)} {rng.choice(LAST)}")
    maybe(0.85, "timezone", zone)
    maybe(0.85, "country", country)
    maybe(0.4, "more_rounds_expected", rng.random() < 0.5)
    maybe(0.3, "stated_decision_by", (day + timedelta(days=rng.randrange(3, 30))).isoformat())
    maybe(0.3, "stated_timeline_days", rng.randrange(1, 30))
    if rng.random() < 0.6:
        facts["thank_you_sent_at"] = _moment(rng, day + timedelta(days=rng.randrange(0, 3)))
    if rng.random() < 0.35:
        facts["promised_materials"] = rng.sample(MATERIALS, rng.randrange(1, 3))
        maybe(0.5, "materials_sent_at", _moment(rng, day + timedelta(days=rng.randrange(0, 4))))
    maybe(0.5, "preferred_channel", rng.choice(CHANNELS))
    maybe(0.5, "phone_ok", rng.random() < 0.5)
    maybe(0.5, "linkedin_connected", rng.random() < 0.5)
    maybe(0.3, "response_received", rng.random() < 0.2)
    if rng.random() < 0.3:
        facts["status_inquiries_sent"] = rng.randrange(0, 4)
        if facts["status_inquiries_sent"]:
            facts["last_status_inquiry_at"] = _moment(
                rng, day + timedelta(days=rng.randrange(7, 20))
            )
    maybe(
        0.1, "competing_offer_deadline", (AS_OF + timedelta(days=rng.randrange(-2, 10))).isoformat()
    )
    maybe(0.05, "as_of", (AS_OF + timedelta(days=rng.randrange(0, 5))).isoformat())
    return facts


def cohort(n: int, seed: int = 42) -> Iterator[dict[str, Any]]:
    """``n`` applicants, deterministic for a given ``seed``."""
    rng = random.Random(seed)
    for i in range(1, n + 1):
        yield applicant(i, rng)


def csv_cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ";".join(value)
    return str(value)


def write(rows: Iterator[dict[str, Any]], path: str, fmt: str | None = None) -> None:
    """Write rows as JSONL, CSV or Parquet (by ``fmt`` or the extension)."""
    fmt = fmt or os.path.splitext(path)[1].lstrip(".")
    if fmt in ("jsonl", "ndjson"):
        with open(path, "w", encoding="utf-8") as fh:
            for facts in rows:
                fh.write(json.dumps(facts, ensure_ascii=False, separators=(",", ":")) + "\n")
    elif fmt == "csv":
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            for facts in rows:
                writer.writerow([csv_cell(facts[c]) if c in facts else "" for c in COLUMNS])
    elif fmt in ("parquet", "pq"):
        _write_parquet(rows, path)
    else:
        raise SystemExit(f"unknown format {fmt!r}: use .jsonl, .csv or .parquet")


def _write_parquet(rows: Iterator[dict[str, Any]], path: str, batch: int = 50_000) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    kinds = {"bool": pa.bool_(), "int": pa.int64(), "list": pa.list_(pa.string())}
    schema = pa.schema([(c, kinds.get(FACT_KINDS[c], pa.string())) for c in COLUMNS])
    with pq.ParquetWriter(path, schema) as writer:
        buffer: list[dict[str, Any]] = []
        for facts in rows:
            buffer.append(facts)
            if len(buffer) >= batch:
                writer.write_table(pa.Table.from_pylist(buffer, schema=schema))
                buffer = []
        if buffer:
            writer.write_table(pa.Table.from_pylist(buffer, schema=schema))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=10_000, help="number of applicants")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "-o", "--output", required=True, help="file.jsonl, file.csv or file.parquet"
    )
    args = parser.parse_args()
    write(cohort(args.n, args.seed), args.output)


if __name__ == "__main__":
    main()
