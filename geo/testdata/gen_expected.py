#!/usr/bin/python3
"""Expected sub-district (adm3) of every UCDP event, computed with GEOS.

An implementation independent of package geo: shapely 1.8 (GEOS) point in
polygon against the same embedded OCHA boundaries. Run from the repository
root with Debian's python3 (python3-shapely 1.8.5):

    /usr/bin/python3 geo/testdata/gen_expected.py > geo/testdata/ucdp-expected.csv

Output columns: id, adm3 (the pcodes of every sub-district that covers the
point, boundary included, sorted and joined by '|', or "none"), nearest
(for "none": the pcode of the nearest sub-district) and nearest_m (the
haversine distance in metres to the nearest point of that sub-district,
that point being found in an equirectangular projection centred on the
event, as package geo defines distances; GEOS's own nearest point in
degree space is up to a few percent farther).
"""
import csv
import json
import math
import sys

from shapely.geometry import Point, shape
from shapely.affinity import affine_transform
from shapely.ops import nearest_points
from shapely.strtree import STRtree

R = 6371008.8


def haversine(lon1, lat1, lon2, lat2):
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * R * math.asin(min(1.0, math.sqrt(h)))


def main():
    with open("geo/data/syria-adm3.geojson", encoding="utf-8") as f:
        fc = json.load(f)
    polys = [shape(ft["geometry"]) for ft in fc["features"]]
    codes = [ft["properties"]["adm3_pcode"] for ft in fc["features"]]
    by_id = {id(p): c for p, c in zip(polys, codes)}
    tree = STRtree(polys)

    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["id", "adm3", "nearest", "nearest_m"])
    with open("geo/testdata/ucdp-points.csv", encoding="utf-8", newline="") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        for r in rows:
            lon, lat = float(r["lon"]), float(r["lat"])
            pt = Point(lon, lat)
            hit = sorted(by_id[id(p)] for p in tree.query(pt) if p.covers(pt))
            if hit:
                out.writerow([r["id"], "|".join(hit), "", ""])
                continue
            best = None
            k = math.cos(math.radians(lat))
            for p, c in zip(polys, codes):
                if p.distance(pt) > 0.2:
                    continue
                # x' = (x - lon) * cos(lat), y' = y - lat
                pp = affine_transform(p, [k, 0, 0, 1, -lon * k, -lat])
                q = nearest_points(Point(0, 0), pp)[1]
                d = haversine(lon, lat, q.x / k + lon, q.y + lat)
                if best is None or d < best[0]:
                    best = (d, c)
            out.writerow([r["id"], "none", best[1], "%.1f" % best[0]])


if __name__ == "__main__":
    main()
