#!/usr/bin/env python3
"""Select the columns of the UCDP GED Syria CSV that the geo tests use.

    python3 geo/testdata/make_points.py ged_syria.csv > geo/testdata/ucdp-points.csv

(the team's copy of ged_syria.csv is ucdp-ged-syria-2016-2019.csv).
"""
import csv
import sys

HEADER = """# UCDP Georeferenced Event Dataset (GED), Syria special release 2016-01-01..2019-11-30, CC BY 4.0.
# Cite: Sundberg, Ralph and Erik Melander (2013) "Introducing the UCDP Georeferenced Event Dataset", Journal of Peace Research 50(4).
# Columns taken unchanged from ged_syria.csv: id, longitude, latitude, date_start, where_prec, side_a, side_b, best, where_coordinates. See README.md.
"""


def main():
    with open(sys.argv[1], newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    sys.stdout.write(HEADER)
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(["id", "lon", "lat", "date", "where_prec", "side_a", "side_b", "best", "where"])
    for r in rows:
        w.writerow([r["id"], r["longitude"], r["latitude"], r["date_start"], r["where_prec"],
                    r["side_a"], r["side_b"], r["best"], r["where_coordinates"]])


if __name__ == "__main__":
    main()
