// Package logging builds the slog logger every SkyDNS program uses, from the
// [Log] settings: level, text or JSON, stdout or a file in a directory.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// Options are the [Log] settings.
type Options struct {
	Level  slog.Level
	Format string // text or json
	Dir    string // "" logs to stdout; else <Dir>/<Program>.log
	// AlsoStdout copies the file's lines to stdout too.
	AlsoStdout bool
	// Program names the log file and is attached to every line, so that
	// logs of several daemons collected together stay apart.
	Program string
}

// New returns the logger and what to close at exit (nil for stdout).
func New(o Options) (*slog.Logger, io.Closer, error) {
	var w io.Writer = os.Stdout
	var closer io.Closer
	if o.Dir != "" {
		if err := os.MkdirAll(o.Dir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("log: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(o.Dir, o.Program+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("log: %w", err)
		}
		w, closer = f, f
		if o.AlsoStdout {
			w = io.MultiWriter(f, os.Stdout)
		}
	}
	ho := &slog.HandlerOptions{Level: o.Level}
	var h slog.Handler
	switch strings.ToLower(o.Format) {
	case "", "text":
		h = slog.NewTextHandler(w, ho)
	case "json":
		h = slog.NewJSONHandler(w, ho)
	default:
		if closer != nil {
			closer.Close()
		}
		return nil, nil, fmt.Errorf("log: format %q: want text or json", o.Format)
	}
	l := slog.New(h)
	if o.Program != "" {
		l = l.With("program", o.Program)
	}
	return l, closer, nil
}
