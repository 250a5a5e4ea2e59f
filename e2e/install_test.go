package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The daemons that get a systemd unit, the config file each reads and the
// capabilities its unit keeps. skydns-apicmd is a client: no unit.
var installUnits = []struct {
	prog, conf string
	caps       []string
}{
	{"skydns", "skydns.conf", []string{"CAP_NET_BIND_SERVICE"}},
	{"skydns-kubeapi", "skydns-api.conf", nil},
	{"skydns-scanner", "skydns-scanner.conf", []string{"CAP_NET_RAW"}},
	{"skydns-schedule", "skydns-schedule.conf", nil},
}

// TestInstall runs scripts/install.sh into a staging root (DESTDIR), as a
// packager would, and checks the result against docs/install.md: every file
// the table lists, and nothing else; programs that run; units that are
// hardened, point at what was installed and pass systemd-analyze verify;
// an operator's config edit that survives a second run; and a third run
// that changes nothing.
func TestInstall(t *testing.T) {
	bin := binaries(t)
	dest := t.TempDir()
	runInstall(t, bin, dest)

	// What the doc says lands where, and what did.
	want := installDocPaths(t)
	got := installedFiles(t, dest)
	for _, p := range want {
		if !slices.Contains(got, p) {
			t.Errorf("docs/install.md lists %s, which install.sh did not install", p)
		}
	}
	for _, p := range got {
		if !slices.Contains(want, p) {
			t.Errorf("install.sh installed %s, which the table in docs/install.md does not list", p)
		}
	}

	for _, p := range programs {
		path := filepath.Join(dest, "usr/bin", p)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: mode %v, want 0755", path, fi.Mode().Perm())
		}
		out, err := exec.Command(path, "-version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), p+" ") {
			t.Errorf("%s -version: %v, %q", path, err, out)
		}
	}
	for _, u := range installUnits {
		conf := filepath.Join(dest, "etc/skydns", u.conf)
		if fi, err := os.Stat(conf); err != nil {
			t.Error(err)
		} else if fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640", conf, fi.Mode().Perm())
		}
		checkUnit(t, dest, u.prog, "/usr/bin", "/etc/skydns", u.conf, u.caps)
	}

	// The operator edits a config file: a second run keeps the edit and puts
	// the sample next to it.
	conf := filepath.Join(dest, "etc/skydns/skydns.conf")
	edited := "# operator's edit\n[Dns]\ndns-addr = 192.0.2.53:53\n"
	if err := os.WriteFile(conf, []byte(edited), 0o640); err != nil {
		t.Fatal(err)
	}
	out := runInstall(t, bin, dest)
	if b, _ := os.ReadFile(conf); string(b) != edited {
		t.Errorf("the operator's skydns.conf was overwritten:\n%s", b)
	}
	sample, err := os.ReadFile(repoFile("conf/skydns.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(conf + ".new"); err != nil || !bytes.Equal(b, sample) {
		t.Errorf("skydns.conf.new is not the sample: %v", err)
	}
	if !strings.Contains(out, "kept "+conf) || !strings.Contains(out, conf+".new") {
		t.Errorf("the second run did not say it kept skydns.conf:\n%s", out)
	}
	if ch := installChanges(out); !slices.Equal(ch, []string{"installed " + conf + ".new"}) {
		t.Errorf("the second run should only have written skydns.conf.new: %q", ch)
	}

	// A third run finds everything in place and touches nothing.
	before := installSnapshot(t, dest)
	out = runInstall(t, bin, dest)
	if after := installSnapshot(t, dest); !maps.Equal(before, after) {
		t.Errorf("the third run changed the tree:\nbefore %v\nafter  %v", before, after)
	}
	if !strings.Contains(out, "nothing to do") || installChanges(out) != nil {
		t.Errorf("the third run should have had nothing to do:\n%s", out)
	}

	verifyUnits(t, dest)
}

// TestInstallPrefix installs under PREFIX=/opt/skydns: the programs go to
// /opt/skydns/bin and the units start them there, still with the configs of
// /etc/skydns.
func TestInstallPrefix(t *testing.T) {
	bin := binaries(t)
	dest := t.TempDir()
	out := runInstall(t, bin, dest, "PREFIX=/opt/skydns")
	for _, p := range programs {
		if _, err := os.Stat(filepath.Join(dest, "opt/skydns/bin", p)); err != nil {
			t.Error(err)
		}
		if _, err := os.Stat(filepath.Join(dest, "usr/bin", p)); err == nil {
			t.Errorf("/usr/bin/%s installed with PREFIX=/opt/skydns", p)
		}
	}
	for _, u := range installUnits {
		checkUnit(t, dest, u.prog, "/opt/skydns/bin", "/etc/skydns", u.conf, u.caps)
	}
	if _, err := os.Stat(filepath.Join(dest, "opt/skydns/lib/sysusers.d/skydns.conf")); err != nil {
		t.Error(err)
	}
	if !strings.Contains(out, "SYSUSERSDIR=/usr/lib/sysusers.d") {
		t.Errorf("no note that systemd-sysusers does not read /opt/skydns/lib/sysusers.d:\n%s", out)
	}
	verifyUnits(t, dest)
}

// TestInstallRefusals: no built programs, a relative path, an unknown
// argument; and --help.
func TestInstallRefusals(t *testing.T) {
	script := repoFile("scripts/install.sh")
	dest := t.TempDir()
	for _, tc := range []struct {
		env  []string
		arg  string
		want string
	}{
		{[]string{"SKYDNS_BIN_DIR=" + t.TempDir()}, "", "run 'make build' first"},
		{[]string{"BINDIR=usr/bin"}, "", "BINDIR must be an absolute path"},
		{nil, "--frobnicate", "unknown argument"},
	} {
		cmd := exec.Command(script)
		if tc.arg != "" {
			cmd.Args = append(cmd.Args, tc.arg)
		}
		cmd.Env = append(installEnv(dest), tc.env...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("install.sh %s with %v: %v, want a failure saying %q:\n%s", tc.arg, tc.env, err, tc.want, out)
		}
	}
	if files := installedFiles(t, dest); len(files) != 0 {
		t.Errorf("a refused run installed %v", files)
	}
	cmd := exec.Command(script, "--help")
	cmd.Env = installEnv(dest)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "DESTDIR") {
		t.Errorf("install.sh --help: %v\n%s", err, out)
	}
}

// installEnv is the environment of install.sh: this process's, without any
// of the script's variables that the caller's shell may have set, and with
// DESTDIR. A DESTDIR is required: with an empty one, run as root, the
// script would create a user and chown files on this machine.
func installEnv(dest string) []string {
	var env []string
	for _, kv := range os.Environ() {
		switch name, _, _ := strings.Cut(kv, "="); name {
		case "DESTDIR", "PREFIX", "BINDIR", "SYSCONFDIR", "UNITDIR", "SYSUSERSDIR", "SKYDNS_BIN_DIR":
		default:
			env = append(env, kv)
		}
	}
	return append(env, "DESTDIR="+dest)
}

// runInstall runs scripts/install.sh from an unrelated directory with the
// programs of bin, into dest, and returns what it printed.
func runInstall(t *testing.T, bin, dest string, env ...string) string {
	t.Helper()
	if dest == "" {
		t.Fatal("runInstall needs a DESTDIR")
	}
	cmd := exec.Command(repoFile("scripts/install.sh"))
	cmd.Dir = t.TempDir()
	cmd.Env = append(append(installEnv(dest), "SKYDNS_BIN_DIR="+bin), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	return string(out)
}

// installChanges are the lines of install.sh's output that report a change
// to a file.
func installChanges(out string) []string {
	var ch []string
	for _, line := range strings.Split(out, "\n") {
		for _, p := range []string{"installed ", "mode ", "owner ", "created "} {
			if strings.HasPrefix(line, p) {
				ch = append(ch, line)
			}
		}
	}
	return ch
}

// installDocPaths are the paths of the "path | what" table of
// docs/install.md: the rows whose first cell is a backticked absolute path.
func installDocPaths(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(repoFile("docs/install.md"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if !strings.HasPrefix(line, "|") {
			if in {
				break
			}
			continue
		}
		if len(cells) == 2 && strings.TrimSpace(cells[0]) == "path" && strings.TrimSpace(cells[1]) == "what" {
			in = true
			continue
		}
		first := strings.TrimSpace(cells[0])
		if in && strings.HasPrefix(first, "`/") && strings.HasSuffix(first, "`") {
			paths = append(paths, strings.Trim(first, "`"))
		}
	}
	if len(paths) == 0 {
		t.Fatal("docs/install.md has no `path | what` table with absolute paths")
	}
	return paths
}

// installedFiles are the files under dest, as absolute paths of the
// installed system, sorted. Anything but a regular file is an error.
func installedFiles(t *testing.T, dest string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dest, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dest, path)
		if !d.Type().IsRegular() {
			t.Errorf("/%s is not a regular file (%v)", rel, d.Type())
		}
		files = append(files, "/"+rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

type installFileState struct {
	mode  fs.FileMode
	mtime int64
	sum   [sha256.Size]byte
}

// installSnapshot is the content, mode and modification time of every file
// and directory under dest.
func installSnapshot(t *testing.T, dest string) map[string]installFileState {
	t.Helper()
	snap := map[string]installFileState{}
	err := filepath.WalkDir(dest, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := installFileState{mode: fi.Mode(), mtime: fi.ModTime().UnixNano()}
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			st.sum = sha256.Sum256(b)
		}
		snap[path] = st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// checkUnit checks the installed unit of prog: its hardening, its
// capabilities, and that ExecStart runs bindir/prog with
// -config-file sysconfdir/conf, both present under dest.
func checkUnit(t *testing.T, dest, prog, bindir, sysconfdir, conf string, caps []string) {
	t.Helper()
	path := filepath.Join(dest, "etc/systemd/system", prog+".service")
	keys := readUnit(t, path)
	for key, want := range map[string]string{
		"User": "skydns", "Group": "skydns", "NoNewPrivileges": "yes", "ProtectSystem": "strict",
		"Restart": "on-failure", "Type": "exec", "KillSignal": "SIGTERM",
	} {
		if v := keys[key]; len(v) == 0 || v[len(v)-1] != want {
			t.Errorf("%s: %s=%v, want %s", prog, key, v, want)
		}
	}
	for _, key := range []string{"AmbientCapabilities", "CapabilityBoundingSet"} {
		// An unset CapabilityBoundingSet is every capability: the unit must
		// say it, even when it keeps none.
		v, ok := keys[key]
		if !ok {
			t.Errorf("%s: no %s=", prog, key)
			continue
		}
		if got := unitCaps(v); !slices.Equal(got, caps) {
			t.Errorf("%s: %s gives %v, want %v", prog, key, got, caps)
		}
	}
	execStart := keys["ExecStart"]
	if len(execStart) != 1 {
		t.Fatalf("%s: ExecStart=%q, want one", prog, execStart)
	}
	f := strings.Fields(execStart[0])
	want := []string{bindir + "/" + prog, "-config-file", sysconfdir + "/" + conf}
	if !slices.Equal(f, want) {
		t.Errorf("%s: ExecStart=%s, want %s", prog, execStart[0], strings.Join(want, " "))
	}
	if fi, err := os.Stat(filepath.Join(dest, f[0])); err != nil || fi.Mode().Perm()&0o111 == 0 {
		t.Errorf("%s: ExecStart's %s is not an executable under DESTDIR (%v)", prog, f[0], err)
	}
	if len(f) == 3 {
		if _, err := os.Stat(filepath.Join(dest, f[2])); err != nil {
			t.Errorf("%s: the -config-file of ExecStart is not under DESTDIR: %v", prog, err)
		}
	}
}

// readUnit reads a unit file's assignments, every value of each key in
// order.
func readUnit(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' || line[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: not an assignment: %q", path, line)
			continue
		}
		keys[strings.TrimSpace(k)] = append(keys[strings.TrimSpace(k)], strings.TrimSpace(v))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// unitCaps is the capability set that the assignments of a capability key
// give, as systemd reads them: an empty assignment resets the list, others
// add to it. An inverted list ("~CAP_...") is refused: it grants everything
// not named.
func unitCaps(values []string) []string {
	var caps []string
	for _, v := range values {
		if v == "" {
			caps = nil
			continue
		}
		if strings.HasPrefix(v, "~") {
			return []string{"inverted:" + v}
		}
		for _, c := range strings.Fields(v) {
			if !slices.Contains(caps, c) {
				caps = append(caps, c)
			}
		}
	}
	slices.Sort(caps)
	return caps
}

// verifyUnits runs systemd-analyze verify on the installed units, with
// dest as the root directory: the units' dependencies are read from there
// and ExecStart must name an executable there. The host's own units
// (sysinit.target, network-online.target and the rest) are copied in first,
// which changes dest: call it last. It needs no running systemd. Without
// systemd-analyze, or without the host's units, it logs why and checks
// nothing.
func verifyUnits(t *testing.T, dest string) {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: units not verified")
		return
	}
	const hostUnits = "/usr/lib/systemd/system"
	if _, err := os.Stat(filepath.Join(hostUnits, "sysinit.target")); err != nil {
		t.Logf("no %s/sysinit.target to verify the units against: units not verified", hostUnits)
		return
	}
	if err := copyTree(hostUnits, filepath.Join(dest, hostUnits)); err != nil {
		t.Fatal(err)
	}
	args := []string{"verify", "--man=no", "--root=" + dest}
	var names []string
	for _, u := range installUnits {
		args = append(args, "/etc/systemd/system/"+u.prog+".service")
		names = append(names, u.prog+".service")
	}
	out, err := exec.Command(analyze, args...).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze %s: %v\n%s", strings.Join(args, " "), err, out)
		return
	}
	// A warning about one of our units (an unknown key, a bad value) is a
	// mistake in it, even though verify exits 0.
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		for _, n := range names {
			if strings.Contains(line, n) {
				t.Errorf("systemd-analyze verify: %s", line)
				break
			}
		}
	}
	if len(out) > 0 {
		t.Logf("systemd-analyze verify printed:\n%s", out)
	}
}

// copyTree copies the directory src to dst: directories, regular files and
// symbolic links (as links).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(to, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, to)
		case d.Type().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(to, b, 0o644)
		}
		return errors.New(path + ": not a file, directory or link")
	})
}
