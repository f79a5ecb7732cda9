package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// demo is the running `trucewatch demo` process.
type demo struct {
	cmd        *exec.Cmd
	chAddr     string // ClickHouse native protocol
	chDir      string // its data directory
	metricsURL string
	logPath    string
	exited     chan error
	stopOnce   sync.Once
	stopErr    error
	database   string
}

var (
	chLine      = regexp.MustCompile(`ClickHouse \S+ listening on (\S+)`)
	metricsLine = regexp.MustCompile(`metrics on (http://\S+/metrics)`)
)

// startDemo runs the demo with its data under dir and waits until it says
// where ClickHouse and its metrics are. Its output goes to dir/demo.log.
func startDemo(ctx context.Context, bin, dir string, c config) (*demo, error) {
	d := &demo{chDir: filepath.Join(dir, "var", "clickhouse"), logPath: filepath.Join(dir, "demo.log"),
		exited: make(chan error, 1), database: "trucewatch"}
	log, err := os.Create(d.logPath)
	if err != nil {
		return nil, err
	}
	args := append([]string{"demo", "--data-dir", filepath.Join(dir, "var"), "--rate", strconv.FormatFloat(c.rate, 'f', -1, 64),
		"--map-addr", "", "--every", c.every.String()}, c.demoArgs...)
	d.cmd = exec.Command(bin, args...)
	d.cmd.Stderr = log
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(log, line)
			if m := chLine.FindStringSubmatch(line); m != nil {
				d.chAddr = m[1]
			}
			if m := metricsLine.FindStringSubmatch(line); m != nil {
				d.metricsURL = m[1]
			}
			if d.chAddr != "" && d.metricsURL != "" && found != nil {
				close(found)
				found = nil
			}
		}
		io.Copy(log, out)
		d.exited <- d.cmd.Wait()
		log.Close()
	}()
	select {
	case <-found:
		return d, nil
	case err := <-d.exited:
		return nil, fmt.Errorf("demo exited before it started: %v (log in %s)", err, d.logPath)
	case <-time.After(2 * time.Minute):
		d.stop()
		return nil, fmt.Errorf("demo did not start within 2 minutes (log in %s)", d.logPath)
	case <-ctx.Done():
		d.stop()
		return nil, ctx.Err()
	}
}

// stop interrupts the demo (a clean stop: flush, commit, servers down) and
// waits for it; it kills it after a minute.
func (d *demo) stop() error {
	d.stopOnce.Do(func() {
		d.cmd.Process.Signal(syscall.SIGINT)
		select {
		case d.stopErr = <-d.exited:
		case <-time.After(time.Minute):
			d.cmd.Process.Kill()
			d.stopErr = fmt.Errorf("killed after a minute: %v", <-d.exited)
		}
	})
	return d.stopErr
}
