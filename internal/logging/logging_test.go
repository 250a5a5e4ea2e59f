package logging

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestJSONFileInDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	l, c, err := New(Options{Level: slog.LevelWarn, Format: "json", Dir: dir, Program: "skydns"})
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown", "k", 1)
	c.Close()
	b, err := os.ReadFile(filepath.Join(dir, "skydns.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want the warning only: %q", len(lines), b)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["msg"] != "shown" || rec["program"] != "skydns" || rec["k"] != float64(1) {
		t.Fatalf("record = %v", rec)
	}
}

func TestBadFormat(t *testing.T) {
	if _, _, err := New(Options{Format: "xml"}); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Fatalf("err = %v, want one naming the format", err)
	}
}

// After logrotate has moved the file away, Reopen makes the logger write
// to a new file under the old name; nothing is lost in between.
func TestReopenAfterRotation(t *testing.T) {
	dir := t.TempDir()
	l, f, err := New(Options{Dir: dir, Program: "skydns"})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	path := filepath.Join(dir, "skydns.log")
	l.Info("before")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	l.Info("between") // still the moved file: it is open
	if err := f.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Info("after")
	for file, want := range map[string][]string{path + ".1": {"before", "between"}, path: {"after"}} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) != len(want) {
			t.Fatalf("%s: %q, want %v", file, b, want)
		}
		for i, w := range want {
			if !strings.Contains(lines[i], "msg="+w) {
				t.Errorf("%s line %d = %q, want msg=%s", file, i, lines[i], w)
			}
		}
	}
}
