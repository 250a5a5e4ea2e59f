// Command skydns-apicmd is the operator's command line over the SkyDNS REST
// API that skydns-kubeapi serves.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/skydns/skydns/internal/version"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("skydns-apicmd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.String("skydns-apicmd"))
		return 0
	}
	fs.Usage()
	return 2
}
