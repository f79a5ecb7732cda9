package storage

// CellChunk is how many of cells (sorted by time) one INSERT of
// WriteIncidentCells takes.
var CellChunk = cellChunk
