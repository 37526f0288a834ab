#!/usr/bin/env python3
"""Regenerates data/tz_prefixes.tsv from libphonenumber's time-zone map.

Run with the `phonenumbers` package installed (pip install phonenumbers):
    python3 shared/domain/tools/gen_tz_prefixes.py > shared/domain/data/tz_prefixes.tsv
Each line: an E.164 digit prefix (country code first), a tab, the IANA zones
separated by commas. The Rust side picks the longest matching prefix.
"""
import phonenumbers
from phonenumbers.tzdata import TIMEZONE_DATA

print(f"# generated from phonenumbers {phonenumbers.__version__} tzdata; do not edit")
for prefix in sorted(TIMEZONE_DATA):
    zones = TIMEZONE_DATA[prefix]
    if zones == ("Etc/Unknown",):
        continue
    print(f"{prefix}\t{','.join(zones)}")
