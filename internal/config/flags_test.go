package config

import (
	"flag"
	"io"
	"reflect"
	"testing"
)

func TestRegisterFlags(t *testing.T) {
	path := writeConf(t, "skydns-schedule.conf", "[General]\nreplicas = 3\n")
	fs := flag.NewFlagSet("skydns-schedule", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f := RegisterFlags(fs, ScheduleFile)
	if f.ConfigFile != ScheduleFile {
		t.Errorf("default path %q", f.ConfigFile)
	}
	err := fs.Parse([]string{"-config-file", path, "-set", "General.replicas=4", "-set", "Etcd.agent-path=/h/", "rest"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"General.replicas=4", "Etcd.agent-path=/h/"}; !reflect.DeepEqual(f.Sets, want) {
		t.Errorf("Sets %q", f.Sets)
	}
	var s Schedule
	if _, err := f.Load(&s); err != nil {
		t.Fatal(err)
	}
	if s.General.Replicas != 4 || s.Etcd.HeartPath != "/h/" {
		t.Errorf("got %+v", s)
	}
	if fs.Arg(0) != "rest" {
		t.Errorf("args %q", fs.Args())
	}

	fs = flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	RegisterFlags(fs, "")
	if err := fs.Parse([]string{"-set", "replicas=4"}); err == nil {
		t.Error("malformed -set accepted")
	}
}
