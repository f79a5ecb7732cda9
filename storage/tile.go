package storage

import "github.com/trucewatch/trucewatch/storage/read"

// TileKey returns the tile key stored on a row for a point (read.TileKey;
// the tile arithmetic is in package read).
func TileKey(lon, lat float64) uint64 { return read.TileKey(lon, lat) }
