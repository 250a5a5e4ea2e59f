package scheduler

import (
	"github.com/skydns/skydns/internal/monitor"
)

// mergeSpec is monitor.MergeSpec: the DNS server computes a name's check
// the same way, so the rule lives there.
var mergeSpec = monitor.MergeSpec
