package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/trucewatch/trucewatch/storage"
)

func runMigrate(ctx context.Context, args []string, std stdio) error {
	var ch clickhouseFlags
	fs := newFlags("migrate", "[flags]", "Create the ClickHouse database and apply the schema migrations not yet applied.", std)
	ch.register(fs, storage.DefaultAddr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(std.err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := storage.Open(ctx, ch.options(log))
	if err != nil {
		return err
	}
	defer store.Close()
	version, err := store.ServerVersion(ctx)
	if err != nil {
		return err
	}
	did, err := store.ApplyMigrations(ctx)
	for _, m := range did {
		fmt.Fprintf(std.out, "applied %04d_%s\n", m.Version, m.Name)
	}
	if err != nil {
		return err
	}
	applied, err := store.Applied(ctx)
	if err != nil {
		return err
	}
	last := uint32(0)
	if len(applied) > 0 {
		last = applied[len(applied)-1]
	}
	if len(did) == 0 {
		fmt.Fprintf(std.out, "database %s on %s (ClickHouse %s) is up to date at version %04d\n", store.Database(), ch.addr, version, last)
	} else {
		fmt.Fprintf(std.out, "database %s on %s (ClickHouse %s) now at version %04d\n", store.Database(), ch.addr, version, last)
	}
	return nil
}
