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
	"sync"
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

// New returns the logger and its log file (nil when logging to stdout),
// which the caller closes at exit.
func New(o Options) (*slog.Logger, *File, error) {
	var w io.Writer = os.Stdout
	var closer *File
	if o.Dir != "" {
		if err := os.MkdirAll(o.Dir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("log: %w", err)
		}
		f, err := openFile(filepath.Join(o.Dir, o.Program+".log"))
		if err != nil {
			return nil, nil, err
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

// File is a log file that can be reopened under its name, so that logrotate
// can move it away and signal the daemon (SIGHUP) instead of copying and
// truncating it under a writer.
type File struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func openFile(path string) (*File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("log: %w", err)
	}
	return &File{path: path, f: f}, nil
}

func (l *File) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Reopen opens the file's path again and writes there from now on. When
// that fails, it keeps writing to the file it has.
func (l *File) Reopen() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("log: reopen: %w", err)
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	return old.Close()
}

// Path is the file's name.
func (l *File) Path() string { return l.path }

func (l *File) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}
