package server

import (
	"cmp"
	"slices"
	"strings"
	"sync"
)

// TopNames counts queries per name for the stats API, with bounded memory:
// it holds at most max names. When a new name finds it full, the less
// queried half is evicted, their counts moving to Other: a flood of junk
// names (each asked once) keeps churning through the lower half while the
// busy names, the ones an operator asks about, stay with their counts. A
// sort of max counts per max/2 new names keeps Add's cost flat. Only
// names that were answered are counted (see Metrics.observe).
type TopNames struct {
	mu  sync.Mutex
	max int
	// count's values are pointers so that counting an existing name is a
	// lookup, never an assignment: an assignment would store the caller's
	// (possibly reused) string as the key.
	count map[string]*uint64
	other uint64
	total uint64
}

// NameCount is one row of Top.
type NameCount struct {
	Name  string `json:"name"`
	Count uint64 `json:"count"`
}

// NewTopNames returns a counter that tracks up to max names.
func NewTopNames(max int) *TopNames {
	return &TopNames{max: max, count: make(map[string]*uint64)}
}

// Add counts one query for name. name may live in a reused buffer: it is
// copied when it becomes a key.
func (t *TopNames) Add(name string) {
	t.mu.Lock()
	t.total++
	if c, ok := t.count[name]; ok {
		*c++
	} else {
		if len(t.count) >= t.max {
			t.evict()
		}
		one := uint64(1)
		t.count[strings.Clone(name)] = &one
	}
	t.mu.Unlock()
}

// evict drops the less queried half of the names (ties broken in map
// order), adding their counts to other.
func (t *TopNames) evict() {
	counts := make([]uint64, 0, len(t.count))
	for _, c := range t.count {
		counts = append(counts, *c)
	}
	slices.Sort(counts)
	drop := max(len(counts)/2, 1)
	cut := counts[drop-1] // the highest count dropped
	for name, c := range t.count {
		if *c < cut {
			t.other += *c
			delete(t.count, name)
			drop--
		}
	}
	for name, c := range t.count {
		if drop == 0 {
			break
		}
		if *c == cut {
			t.other += *c
			delete(t.count, name)
			drop--
		}
	}
}

// Top returns the n most queried names, most first.
func (t *TopNames) Top(n int) []NameCount {
	t.mu.Lock()
	rows := make([]NameCount, 0, len(t.count))
	for name, c := range t.count {
		rows = append(rows, NameCount{name, *c})
	}
	t.mu.Unlock()
	slices.SortFunc(rows, func(a, b NameCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return rows[:min(n, len(rows))]
}

// Totals returns all queries counted, those of the names evicted since,
// and the number of names tracked.
func (t *TopNames) Totals() (total, other uint64, names int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.total, t.other, len(t.count)
}
