// Package geo matches report locations against Syria's administrative
// areas (OCHA COD-AB, embedded) and against truce zone sets (ceasefires,
// de-escalation zones, excluded areas, buffers), and computes how far a
// point lies from a zone's boundary.
//
// # Semantics
//
//   - Coordinates are WGS 84 longitude/latitude: orb.Point{lon, lat}.
//   - A polygon is the even-odd union of all its rings (outer rings and
//     holes, of one Polygon or of every member of a MultiPolygon).
//   - A point exactly on a boundary (an edge or a vertex, of an outer ring
//     or of a hole) is inside. A point on the line between two
//     sub-districts is inside both; Match reports the first in pcode order.
//   - Admin areas: every point gets the sub-district (adm3) that contains it
//     and that sub-district's district (adm2) and governorate (adm1). A point
//     in no sub-district but within AdminTolerance (5 km) of one, such as a
//     coastal town that the OCHA coastline leaves in the sea or a camp on
//     the border berm, gets the nearest sub-district with AdmApprox set.
//     Farther away it gets no admin codes. A point with AdmApprox gets
//     the zones of that sub-district as Possible hits only.
//   - Zones: a zone given by admin pcodes is the union of the sub-districts
//     whose pcode starts with one of them (SY = all of Syria, SY07 = Idleb
//     governorate), so zone membership follows adm3 containment exactly.
//     A zone given inline is indexed as its own polygon.
//   - A zone is in force at t when ValidFrom <= t < ValidTo (ValidTo zero =
//     open-ended). A zero t ignores validity.
//   - Location uncertainty: when the circle of radius accuracyM around the
//     point crosses a zone's boundary, the hit is Possible (the point is
//     possibly in the zone, whichever side of the line it lies).
//   - Distances are in metres on the WGS 84 mean sphere (R = 6,371,008.8 m),
//     measured to the nearest point of a boundary found in an
//     equirectangular projection centred on the query point, then measured
//     by haversine. They are within 0.1% up to tens of kilometres.
//
// # Speed
//
// Containment goes through a grid index over the polygon edges (see
// layer; for the sub-districts about 1,700 x 1,250 cells of 0.004 degree,
// 2.4 edges per crossed cell on average): every cell is either outside all polygons, fully inside one, or
// crossed by edges, in which case it keeps those edges and a reference point
// of known status, and a point test counts how many of the cell's edges the
// segment from the reference point to the query point crosses. A Match
// without accuracy costs one cell lookup and a handful of edge tests and
// allocates nothing once dst.Zones has grown.
package geo
