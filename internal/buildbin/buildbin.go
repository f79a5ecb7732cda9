// Package buildbin builds the trucewatch binary for the harnesses that run
// it as its own process (cmd/bench-ingest, cmd/soak), as `make build` does.
package buildbin

import (
	"context"
	"fmt"
	"os"
	"os/exec"
)

// Trucewatch builds ./cmd/trucewatch into out; it must run from the
// repository root. The compiler's output goes to stderr.
func Trucewatch(ctx context.Context, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/trucewatch")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/trucewatch (run from the repository root): %w", err)
	}
	return nil
}
